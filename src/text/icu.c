/*
 * icu.c
 *		Conversions and normalisation shared by the ICU helpers.
 *
 * Everything is converted to UTF-16 once, worked on with ICU, and converted
 * back; the database is UTF-8 (the extension script refuses others).
 */
#include "postgres.h"

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "mb/pg_wchar.h"
#include "meshpg/text/icu.h"

void
mesh_icu_check(UErrorCode status, const char *what)
{
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("ICU %s failed: %s", what, u_errorName(status))));
}

/*
 * Names, search text and masks go through ICU, which works on UTF-8.  Also
 * called when CREATE EXTENSION meshpg runs, so that the first thing a user
 * of a SQL_ASCII database sees says how to get a UTF8 one.
 */
void
mesh_require_utf8(void)
{
	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("meshpg requires a UTF8 database, not %s", GetDatabaseEncodingName()),
				 errhint("Create a UTF8 database, for example CREATE DATABASE mesh TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' (or createdb -T template0 -E UTF8 mesh), and use meshpg there.")));
}

UChar *
mesh_utf8_to_uchar(const char *input, int len, int32_t *ulen)
{
	UErrorCode	status = U_ZERO_ERROR;
	UChar	   *buf;
	int32_t		cap = len + 1;

	mesh_require_utf8();

	/* UTF-16 never needs more code units than UTF-8 has bytes. */
	buf = palloc(sizeof(UChar) * cap);
	u_strFromUTF8(buf, cap, ulen, input, len, &status);
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("invalid UTF-8 text")));
	return buf;
}

char *
mesh_uchar_to_utf8(const UChar *input, int32_t ulen)
{
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		cap = ulen * 3 + 1;
	int32_t		len;
	char	   *buf = palloc(cap);

	u_strToUTF8(buf, cap, &len, input, ulen, &status);
	mesh_icu_check(status, "conversion to UTF-8");
	buf[len] = '\0';
	return buf;
}

/*
 * NFKC with case folding (names, search) or plain NFD (accent stripping).
 * Normalisation can grow text; retry once with the size ICU asks for.
 */
UChar *
mesh_normalize(const UChar *input, int32_t len, int32_t *outlen, bool casefold_nfkc)
{
	UErrorCode	status = U_ZERO_ERROR;
	const UNormalizer2 *norm;
	int32_t		cap = len * 3 + 16;
	UChar	   *buf;

	norm = casefold_nfkc ? unorm2_getNFKCCasefoldInstance(&status)
		: unorm2_getNFDInstance(&status);
	mesh_icu_check(status, "normalizer");

	buf = palloc(sizeof(UChar) * cap);
	*outlen = unorm2_normalize(norm, input, len, buf, cap, &status);
	if (status == U_BUFFER_OVERFLOW_ERROR)
	{
		status = U_ZERO_ERROR;
		cap = *outlen + 1;
		buf = repalloc(buf, sizeof(UChar) * cap);
		*outlen = unorm2_normalize(norm, input, len, buf, cap, &status);
	}
	mesh_icu_check(status, "normalization");
	return buf;
}
