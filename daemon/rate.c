// SPDX-License-Identifier: GPL-2.0
/*
 * Relay rate figures: parsing and printing (see rate.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rate.h"

/*
 * Decimal with at most 9 fraction digits, times @mult, divided by @div:
 * exact in integers, so "1.5G" is 1500000000 and nothing rounds twice.
 */
static int fixed_parse(const char *s, size_t len, uint64_t mult, uint64_t div,
		       uint64_t max, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, scale = 1;
	size_t i = 0;
	int digits = 0;

	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
			if (scale >= 1000000000ULL)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(s[i] - '0');
			scale *= 10;
		}
	}
	if (!digits || i != len)
		return -EINVAL;
	if (whole > max || whole > UINT64_MAX / mult)
		return -ERANGE;
	/* frac / scale < 1 and mult <= 10^9: frac * mult fits */
	whole = (whole * mult + frac * mult / scale) / div;
	if (whole > max)
		return -ERANGE;
	*out = whole;
	return 0;
}

/* Where the number ends and its multiplier: k, M, G or nothing. */
static size_t split_unit(const char *s, uint64_t *mult)
{
	size_t n = strspn(s, "0123456789.");

	*mult = 1;
	switch (s[n]) {
	case 'k':
	case 'K':
		*mult = 1000;
		break;
	case 'M':
		*mult = 1000000;
		break;
	case 'G':
		*mult = 1000000000;
		break;
	default:
		return n;
	}
	return n;
}

int maq_rate_parse(const char *s, uint64_t *bytes_per_s)
{
	uint64_t mult, div = 1;
	size_t n = split_unit(s, &mult);
	const char *unit = s + n + (mult > 1);

	if (!strcmp(unit, "bit"))
		div = 8;
	else if (*unit && strcmp(unit, "B"))
		return -EINVAL;
	return fixed_parse(s, n, mult, div, MAQUIS_MAX_RELAY_RATE,
			   bytes_per_s);
}

int maq_burst_parse(const char *s, uint32_t *bytes)
{
	uint64_t mult, v;
	size_t n = split_unit(s, &mult);
	const char *unit = s + n + (mult > 1);
	int err;

	if (*unit && strcmp(unit, "B"))
		return -EINVAL;
	err = fixed_parse(s, n, mult, 1, MAQUIS_MAX_RELAY_BURST, &v);
	if (err)
		return err;
	if (v < MAQUIS_CELL_SIZE)
		return -ERANGE;
	*bytes = (uint32_t)v;
	return 0;
}

const char *maq_rate_why(int err)
{
	return err == -ERANGE ? "is above 12500000000 bytes/s (100 Gbit/s)" :
	       "is not a rate in bytes/s (0: unlimited; 10M, 1.5G, 80Mbit)";
}

const char *maq_burst_why(int err)
{
	return err == -ERANGE ? "is not between 1436 and 1073741824 bytes" :
	       "is not a size in bytes (92k, 1M)";
}

/* @v / @unit with up to 3 decimals, trailing zeros dropped. */
static void fixed_str(char *buf, size_t len, uint64_t v, uint64_t unit,
		      const char *name)
{
	uint64_t milli = (v % unit) * 1000 / unit;
	char frac[8] = "";

	if (milli) {
		snprintf(frac, sizeof(frac), ".%03u", (unsigned int)milli);
		while (frac[strlen(frac) - 1] == '0')
			frac[strlen(frac) - 1] = '\0';
	}
	snprintf(buf, len, "%llu%s %s", (unsigned long long)(v / unit), frac,
		 name);
}

static void si_str(char *buf, size_t len, uint64_t v, const char *unit)
{
	static const char *const pfx[] = { "", "k", "M", "G", "T" };
	uint64_t div = 1;
	char name[16];
	int i = 0;

	while (i < 4 && v >= div * 1000) {
		div *= 1000;
		i++;
	}
	snprintf(name, sizeof(name), "%s%s", pfx[i], unit);
	fixed_str(buf, len, v, div, name);
}

const char *maq_rate_str(uint64_t bytes_per_s, char *buf, size_t len)
{
	char b[64], bits[64];

	if (!bytes_per_s) {
		snprintf(buf, len, "unlimited");
		return buf;
	}
	si_str(b, sizeof(b), bytes_per_s, "B/s");
	si_str(bits, sizeof(bits), bytes_per_s * 8, "bit/s");
	snprintf(buf, len, "%s (%s)", b, bits);
	return buf;
}
