/*
 * icu.h
 *		UTF-8 <-> UTF-16 conversion for the ICU helpers.
 */
#ifndef MESHPG_ICU_H
#define MESHPG_ICU_H

#include <unicode/utypes.h>

extern void mesh_require_utf8(void);
extern UChar *mesh_utf8_to_uchar(const char *input, int len, int32_t *ulen);
extern char *mesh_uchar_to_utf8(const UChar *input, int32_t ulen);
extern UChar *mesh_normalize(const UChar *input, int32_t len, int32_t *outlen,
							 bool casefold_nfkc);
extern void mesh_icu_check(UErrorCode status, const char *what);

#endif							/* MESHPG_ICU_H */
