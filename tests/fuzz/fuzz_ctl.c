// SPDX-License-Identifier: GPL-2.0
/*
 * The link control framing and the 17-byte wire address on anything.
 *
 * maq_ctl_get() must take exactly the cells maq_ctl_put() makes: length
 * MAQ_CELL_SIZE, cid 0, our version, reserved zero, and give back the type
 * and handle they carry.  maq_wire_addr_get() (bytes 0..17 of the input,
 * the port from bytes 17..19) must take only the one encoding
 * maq_wire_addr_put() writes for the address it returns.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "ctl.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

static void check_ctl(const u8 *cell, size_t size)
{
	u8 hdr[MAQ_CELL_SIZE], type = 0;
	u32 handle = 0;
	bool ok;
	int ret;

	ret = maq_ctl_get(cell, size, &type, &handle);
	if (size != MAQ_CELL_SIZE) {
		FUZZ_ASSERT(ret == -EMSGSIZE, "%zu bytes: %d", size, ret);
		return;
	}
	ok = !maq_get_be32(cell) && cell[5] == MAQ_CTL_VERSION &&
	     !maq_get_be16(cell + 6);
	FUZZ_ASSERT(ret == (ok ? 0 : -EPROTO), "header: %d", ret);
	if (ret)
		return;
	maq_ctl_put(hdr, type, handle);
	FUZZ_ASSERT(!memcmp(hdr, cell, MAQ_CTL_HDR_LEN),
		    "header does not round-trip");
}

static void check_addr(const u8 *in, size_t size)
{
	union maq_sockaddr a;
	u8 out[MAQ_WIRE_ADDR_LEN];
	u16 port = 0;
	int ret;

	if (size < MAQ_WIRE_ADDR_LEN)
		return;
	if (size >= MAQ_WIRE_ADDR_LEN + 2)
		port = maq_get_be16(in + MAQ_WIRE_ADDR_LEN);
	memset(&a, 0xa5, sizeof(a));
	ret = maq_wire_addr_get(in, port, &a);
	FUZZ_ASSERT(ret == 0 || ret == -EINVAL, "return %d", ret);
	if (ret)
		return;
	switch (a.sa.sa_family) {
	case AF_UNSPEC:
		FUZZ_ASSERT(in[0] == MAQ_WIRE_NONE, "family byte %u", in[0]);
		break;
	case AF_INET:
		FUZZ_ASSERT(in[0] == MAQ_WIRE_IPV4 &&
			    ntohs(a.in4.sin_port) == port, "IPv4");
		break;
	case AF_INET6:
		FUZZ_ASSERT(in[0] == MAQ_WIRE_IPV6 &&
			    ntohs(a.in6.sin6_port) == port, "IPv6");
		break;
	default:
		FUZZ_ASSERT(0, "family %d", a.sa.sa_family);
	}
	maq_addr_unspecified(&a);
	ret = maq_wire_addr_put(out, &a);
	FUZZ_ASSERT(!ret && !memcmp(out, in, sizeof(out)),
		    "address does not round-trip: %d", ret);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	u8 *buf = fuzz_copy(data, size);

	check_ctl(buf, size);
	check_addr(buf, size);
	free(buf);
	return 0;
}
