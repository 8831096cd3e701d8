/* SipHash-2-4 (Aumasson and Bernstein), 64-bit output, 128-bit key: a
 * keyed hash for names one side must not read but can match (a worker's
 * routing table carries other sites' host names this way, see
 * docs/adapter-protocol.md). Header only: the routing table code depends
 * on nothing but libc. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define WASP_SIPHASH_KEY_SIZE 16

static inline uint64_t
wasp_sip_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t
wasp_sip_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define WASP_SIP_ROUND(v0, v1, v2, v3)                                                       \
	do {                                                                                  \
		v0 += v1;                                                                     \
		v1 = wasp_sip_rotl(v1, 13);                                                   \
		v1 ^= v0;                                                                     \
		v0 = wasp_sip_rotl(v0, 32);                                                   \
		v2 += v3;                                                                     \
		v3 = wasp_sip_rotl(v3, 16);                                                   \
		v3 ^= v2;                                                                     \
		v0 += v3;                                                                     \
		v3 = wasp_sip_rotl(v3, 21);                                                   \
		v3 ^= v0;                                                                     \
		v2 += v1;                                                                     \
		v1 = wasp_sip_rotl(v1, 17);                                                   \
		v1 ^= v2;                                                                     \
		v2 = wasp_sip_rotl(v2, 32);                                                   \
	} while (0)

static inline uint64_t
wasp_siphash24(const uint8_t key[WASP_SIPHASH_KEY_SIZE], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = wasp_sip_u64(key), k1 = wasp_sip_u64(key + 8);
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k0, v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k0, v3 = UINT64_C(0x7465646279746573) ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = wasp_sip_u64(in + i);
		v3 ^= m;
		WASP_SIP_ROUND(v0, v1, v2, v3);
		WASP_SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	WASP_SIP_ROUND(v0, v1, v2, v3);
	WASP_SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		WASP_SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}
