// SPDX-License-Identifier: GPL-2.0
/*
 * The routing-block checks of maq_create_process(), which sit behind the
 * AEAD tag.  setup.c keeps them static; its public key schedule
 * (maq_hop_kdf()) is enough to get there.  The input is the plaintext C
 * decrypts to (routing block first, then what the next hop gets; zero
 * padded to its 1372 bytes), sealed the way docs/PROTOCOL.md section 7.1
 * says: ChaCha20-Poly1305 under the setup key of a fixed X and onion key
 * 0, nonce 0, no associated data.  Such a CREATE must get past key and
 * tag; what the routing block then says is checked by fuzz_check_setup(),
 * and an accepted one must carry exactly the input's fields.
 */
#include <string.h>
#include <sodium.h>

#include "fuzz.h"

#define CT	MAQ_SETUP_CT_LEN

static struct maq_onion_key key;
static u8 x_pub[32];
static struct maq_hop_keys hk;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	u8 x[32], ss[32];

	(void)argc;
	(void)argv;
	fuzz_init();
	fuzz_onion_key(0, &key);
	memset(x, 0x33, sizeof(x));
	FUZZ_ASSERT(!crypto_scalarmult_base(x_pub, x), "X");
	FUZZ_ASSERT(!crypto_scalarmult(ss, x, key.pk), "shared secret");
	maq_hop_kdf(&hk, ss, x_pub, key.pk);
	return 0;
}

/* The fields a relay must have taken from routing block @p. */
static void check_fields(const struct maq_relay_setup *r, const u8 *p)
{
	u16 port = maq_get_be16(p + 2);

	FUZZ_ASSERT(r->terminus == (p[0] & MAQ_ROUTING_TERMINUS),
		    "terminus flag");
	FUZZ_ASSERT(r->lifetime == maq_get_be32(p + 20), "lifetime");
	FUZZ_ASSERT(r->hop.fwd_seq == maq_get_be64(p + 24) &&
		    r->hop.back_seq == maq_get_be64(p + 32), "deltas");
	if (r->terminus)
		return;
	if (p[1] == MAQ_WIRE_IPV4)
		FUZZ_ASSERT(r->next.sa.sa_family == AF_INET &&
			    ntohs(r->next.in4.sin_port) == port &&
			    !memcmp(&r->next.in4.sin_addr, p + 4, 4),
			    "IPv4 next hop");
	else
		FUZZ_ASSERT(p[1] == MAQ_WIRE_IPV6 &&
			    r->next.sa.sa_family == AF_INET6 &&
			    ntohs(r->next.in6.sin6_port) == port &&
			    !memcmp(&r->next.in6.sin6_addr, p + 4, 16),
			    "IPv6 next hop (family byte %u)", p[1]);
	/* the next hop's onion head is the rest of the plaintext */
	FUZZ_ASSERT(!memcmp(r->onion, p + MAQ_ROUTING_LEN,
			    CT - MAQ_ROUTING_LEN), "onion for the next hop");
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static const u8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	static struct maq_relay_setup r;
	static u8 p[CT], msg[MAQ_CTL_MSG_LEN];
	enum maq_create_err err;

	if (size > CT)
		return -1;	/* not a plaintext: keep out of the corpus */
	memset(p, 0, sizeof(p));
	memcpy(p, data, size);
	maq_put_be32(msg, 0x5eed);
	memcpy(msg + 4, x_pub, 32);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(msg + 4 + 32 + 16,
			msg + 4 + 32, NULL, p, CT, NULL, 0, NULL, nonce,
			hk.setup);

	err = maq_create_process(&r, msg, sizeof(msg), &key, 1);
	FUZZ_ASSERT(err != MAQ_CREATE_BAD_KEY && err != MAQ_CREATE_BAD_TAG,
		    "a CREATE sealed to our key refused: %s",
		    maq_create_err_name(err));
	fuzz_check_setup(&r, err, msg, sizeof(msg));
	if (!err)
		check_fields(&r, p);
	maq_relay_setup_wipe(&r);
	return 0;
}
