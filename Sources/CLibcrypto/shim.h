#ifndef C_LIBCRYPTO_SHIM_H
#define C_LIBCRYPTO_SHIM_H
/* Only digests, HMAC and constant-time comparison: EVP_Digest, HMAC, CRYPTO_memcmp. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif
