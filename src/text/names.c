/*
 * names.c
 *		Domain and product names: validation, normalisation, spoof checks.
 *
 * A name becomes a schema name and half of every qualified product name, so
 * it is normalised (NFKC with case folding: 'Payments' and 'ｐａｙｍｅｎｔｓ'
 * are 'payments'), must look like an identifier (a letter, then letters,
 * digits, combining marks and underscores), fits in NAMEDATALEN, and is
 * written in one script by ICU's "highly restrictive" level, so 'pаypal'
 * with a Cyrillic 'а' is refused.  Confusability with *existing* names is
 * decided by comparing ICU skeletons (see the registry).
 */
#include "postgres.h"

#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "meshpg/meshpg.h"
#include "meshpg/text/icu.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_normalize_name);

static USpoofChecker *spoof_checker = NULL;

static USpoofChecker *
get_spoof_checker(void)
{
	UErrorCode	status = U_ZERO_ERROR;

	if (spoof_checker != NULL)
		return spoof_checker;

	spoof_checker = uspoof_open(&status);
	mesh_icu_check(status, "spoof checker");
	uspoof_setChecks(spoof_checker,
					 USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE | USPOOF_MIXED_NUMBERS,
					 &status);
	uspoof_setRestrictionLevel(spoof_checker, USPOOF_HIGHLY_RESTRICTIVE);
	mesh_icu_check(status, "spoof checker");
	return spoof_checker;
}

static bool
is_name_char(UChar32 c, bool first)
{
	int8_t		type = u_charType(c);

	switch (type)
	{
		case U_UPPERCASE_LETTER:
		case U_LOWERCASE_LETTER:
		case U_TITLECASE_LETTER:
		case U_MODIFIER_LETTER:
		case U_OTHER_LETTER:
			return true;
		case U_DECIMAL_DIGIT_NUMBER:
		case U_NON_SPACING_MARK:
		case U_COMBINING_SPACING_MARK:
			return !first;
		default:
			return !first && c == '_';
	}
}

char *
mesh_normalize_name(const char *input, const char *what, bool missing_ok)
{
	int32_t		ulen;
	int32_t		nlen;
	UChar	   *ustr;
	UChar	   *norm;
	int32_t		i = 0;
	bool		first = true;
	char	   *result;
	const char *label = what ? psprintf("%s name", what) : "name";

	if (input[0] == '\0')
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("%s must not be empty", label)));
	}

	ustr = mesh_utf8_to_uchar(input, strlen(input), &ulen);
	norm = mesh_normalize(ustr, ulen, &nlen, true);

	while (i < nlen)
	{
		UChar32		c;

		U16_NEXT(norm, i, nlen, c);
		if (!is_name_char(c, first))
		{
			if (missing_ok)
				return NULL;
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid %s \"%s\"", label, input),
					 errdetail("A name starts with a letter and contains only letters, digits and underscores.")));
		}
		first = false;
	}

	result = mesh_uchar_to_utf8(norm, nlen);
	if (strlen(result) >= NAMEDATALEN)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("%s \"%s\" is too long", label, input),
				 errdetail("Normalised, the name has %zu bytes; the limit is %d.",
						   strlen(result), NAMEDATALEN - 1)));
	}

	if (meshpg_confusable_check)
	{
		UErrorCode	status = U_ZERO_ERROR;
		int32_t		checks;

		checks = uspoof_check2(get_spoof_checker(), norm, nlen, NULL, &status);
		mesh_icu_check(status, "spoof check");
		if (checks != 0)
		{
			if (missing_ok)
				return NULL;
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("%s \"%s\" mixes scripts or contains invisible characters",
							label, input),
					 errdetail("Names must be written in a single script, as ICU's highly restrictive level defines it."),
					 errhint("Look-alike letters from another script, such as Cyrillic \"а\" for Latin \"a\", are refused.")));
		}
	}

	return result;
}

char *
mesh_name_skeleton(const char *name)
{
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		ulen;
	UChar	   *ustr = mesh_utf8_to_uchar(name, strlen(name), &ulen);
	int32_t		cap = ulen * 4 + 16;
	UChar	   *skel = palloc(sizeof(UChar) * cap);
	int32_t		slen;

	slen = uspoof_getSkeleton(get_spoof_checker(), 0, ustr, ulen, skel, cap, &status);
	if (status == U_BUFFER_OVERFLOW_ERROR)
	{
		status = U_ZERO_ERROR;
		cap = slen + 1;
		skel = repalloc(skel, sizeof(UChar) * cap);
		slen = uspoof_getSkeleton(get_spoof_checker(), 0, ustr, ulen, skel, cap, &status);
	}
	mesh_icu_check(status, "skeleton");
	return mesh_uchar_to_utf8(skel, slen);
}

/* meshpg.normalize_name(name text): the normalised form, or an error. */
Datum
meshpg_normalize_name(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be null")));
	PG_RETURN_TEXT_P(cstring_to_text(mesh_normalize_name(text_to_cstring(PG_GETARG_TEXT_PP(0)),
														 NULL, false)));
}
