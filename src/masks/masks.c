/*
 * masks.c
 *		The mask functions written in C: partial (grapheme-aware, through
 *		ICU), email, and the keyed hash.  The others (date, round, bucket)
 *		are SQL functions the planner can inline; null and redact become
 *		constants at plan time.
 */
#include "postgres.h"

#include <unicode/ubrk.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/policy/policy.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/text/icu.h"

PG_FUNCTION_INFO_V1(meshpg_mask_partial);
PG_FUNCTION_INFO_V1(meshpg_mask_email);
PG_FUNCTION_INFO_V1(meshpg_mask_hash);

/*
 * A masked value longer than a text can be (a long value with a long fill)
 * must be refused as a limit, 54000, like repeat() or lpad(), and not reach
 * palloc, whose "invalid memory alloc request size" is an internal error.
 */
static void
check_mask_size(int64 bytes)
{
	if (bytes > (int64) (MaxAllocSize - VARHDRSZ - 1))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("masked value would be too long"),
				 errdetail("The result would exceed the maximum text size of 1 GB.")));
}

/*
 * meshpg.mask_partial(value, keep_first, keep_last, fill): keeps the first
 * and last N user-perceived characters (grapheme clusters: an emoji family
 * or a letter with its combining accents counts once) and replaces each
 * other one by fill.  If nothing would be hidden, everything is.
 */
Datum
meshpg_mask_partial(PG_FUNCTION_ARGS)
{
	text	   *input = PG_GETARG_TEXT_PP(0);
	int32		keep_first = PG_GETARG_INT32(1);
	int32		keep_last = PG_GETARG_INT32(2);
	text	   *fill_text = PG_GETARG_TEXT_PP(3);
	const char *fill = VARDATA_ANY(fill_text);
	int			fill_len = VARSIZE_ANY_EXHDR(fill_text);
	int32		ulen;
	UChar	   *ustr;
	UBreakIterator *bi;
	UErrorCode	status = U_ZERO_ERROR;
	int32	   *bounds;
	int			nbounds = 0;
	int			graphemes;
	StringInfoData out;

	if (keep_first < 0 || keep_last < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keep_first and keep_last must not be negative")));

	/*
	 * ASCII without CR (card numbers, codes): every byte is a grapheme, and
	 * ICU is not needed.  This is the hot path of a masked scan.
	 */
	{
		const unsigned char *p = (const unsigned char *) VARDATA_ANY(input);
		int			len = VARSIZE_ANY_EXHDR(input);
		bool		ascii = true;

		for (int i = 0; i < len && ascii; i++)
			ascii = p[i] < 0x80 && p[i] != '\r';
		if (ascii)
		{
			text	   *result;
			char	   *out;
			int64		size;

			if ((int64) keep_first + keep_last >= len)
				keep_first = keep_last = 0;
			size = (int64) keep_first + keep_last +
				(int64) (len - keep_first - keep_last) * fill_len;
			check_mask_size(size);
			result = palloc(VARHDRSZ + size);
			out = VARDATA(result);
			memcpy(out, p, keep_first);
			out += keep_first;
			if (fill_len == 1)
			{
				memset(out, fill[0], len - keep_first - keep_last);
				out += len - keep_first - keep_last;
			}
			else
				for (int i = keep_first; i < len - keep_last; i++)
				{
					memcpy(out, fill, fill_len);
					out += fill_len;
				}
			memcpy(out, p + len - keep_last, keep_last);
			out += keep_last;
			SET_VARSIZE(result, out - (char *) result);
			PG_RETURN_TEXT_P(result);
		}
	}

	/*
	 * The grapheme boundaries take four bytes per UTF-16 unit, and there
	 * are at most as many units as input bytes: past that, the value is too
	 * long for this path (the same limit, whatever the fill).
	 */
	if (((int64) VARSIZE_ANY_EXHDR(input) + 2) * sizeof(int32) > (int64) MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value is too long to mask"),
				 errdetail("Text that is not plain ASCII is masked up to %d MB.",
						   (int) (MaxAllocSize / sizeof(int32) / (1024 * 1024)))));
	ustr = mesh_utf8_to_uchar(VARDATA_ANY(input), VARSIZE_ANY_EXHDR(input), &ulen);
	bi = ubrk_open(UBRK_CHARACTER, "", ustr, ulen, &status);
	mesh_icu_check(status, "grapheme iterator");
	bounds = palloc(sizeof(int32) * (ulen + 2));
	for (int32 b = ubrk_first(bi); b != UBRK_DONE; b = ubrk_next(bi))
		bounds[nbounds++] = b;
	ubrk_close(bi);
	graphemes = nbounds - 1;

	/* Showing all of a short value would show it whole. */
	if ((int64) keep_first + keep_last >= graphemes)
		keep_first = keep_last = 0;

	/* the fill alone may be too long: say so before building any of it */
	check_mask_size((int64) (graphemes - keep_first - keep_last) * fill_len);
	initStringInfo(&out);
	for (int g = 0; g < graphemes; g++)
	{
		if (g < keep_first || g >= graphemes - keep_last)
		{
			char	   *kept = mesh_uchar_to_utf8(ustr + bounds[g],
												  bounds[g + 1] - bounds[g]);
			int			kept_len = strlen(kept);

			check_mask_size((int64) out.len + kept_len);
			appendBinaryStringInfo(&out, kept, kept_len);
		}
		else
		{
			check_mask_size((int64) out.len + fill_len);
			appendBinaryStringInfo(&out, fill, fill_len);
		}
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

/*
 * meshpg.mask_email(value): the domain stays (joins and counts per domain
 * still work); the local part becomes five stars, whatever its length.
 * Something that is not an address is masked whole.
 */
Datum
meshpg_mask_email(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	const char *data = VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);
	const char *at = len > 0 ? memrchr(data, '@', len) : NULL;
	int			domain_len;
	text	   *result;

	/* one allocation, no C strings: this runs for every row of a scan */
	if (at == NULL || at == data || at == data + len - 1)
		PG_RETURN_TEXT_P(cstring_to_text("*****"));
	domain_len = data + len - at;
	result = palloc(VARHDRSZ + 5 + domain_len);
	SET_VARSIZE(result, VARHDRSZ + 5 + domain_len);
	memcpy(VARDATA(result), "*****", 5);
	memcpy(VARDATA(result) + 5, at, domain_len);
	PG_RETURN_TEXT_P(result);
}

/* The database's hash key, cached until the catalog changes. */
static uint8 hmac_key[64];
static int	hmac_key_len = 0;
static uint64 hmac_key_generation = 0;

static void
load_hmac_key(void)
{
	const MeshCatalog *cat = mesh_catalog();
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;

	if (hmac_key_len > 0 && hmac_key_generation == mesh_catalog_generation())
		return;
	hmac_key_len = 0;
	if (cat == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"meshpg\" is not installed in this database")));
	rel = table_open(cat->secret_rel, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		bytea	   *key = DatumGetByteaPP(heap_getattr(tup, Anum_cat_secret_key,
													   RelationGetDescr(rel), &isnull));

		hmac_key_len = Min(VARSIZE_ANY_EXHDR(key), (int) sizeof(hmac_key));
		memcpy(hmac_key, VARDATA_ANY(key), hmac_key_len);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	hmac_key_generation = mesh_catalog_generation();

	/* No key, no pseudonyms: never fall back to an unkeyed hash. */
	if (hmac_key_len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("meshpg has no hash key in this database"),
				 errhint("Creating a masking policy with mask => 'hash' creates it.")));
}

/*
 * meshpg.mask_hash(value): HMAC-SHA-256 of the value under the database's
 * secret key, in hex.  Equal values give equal pseudonyms, so masked
 * columns still join within the database; without the key they cannot be
 * reversed by hashing guesses elsewhere.
 */
/* Shared with the planner, which refuses such calls before they run. */
void
mesh_refuse_hash_call(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("meshpg.mask_hash is applied by masking policies and cannot be called directly"),
			 errdetail("Hashing chosen values would let anyone confirm a guess against a pseudonym."),
			 errhint("The governance team (meshpg_admin) may call it.")));
}

Datum
meshpg_mask_hash(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	pg_hmac_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	Node	   *call = fcinfo->flinfo ? fcinfo->flinfo->fn_expr : NULL;

	/*
	 * Only where a policy put it (however the query reached the executor:
	 * views, inlined SQL functions, defaults), or for the governance team.
	 * Anyone else could hash guesses and compare them with pseudonyms.
	 */
	if (!(call != NULL && IsA(call, FuncExpr) &&
		  ((FuncExpr *) call)->funcformat == MESH_POLICY_CALL) &&
		!mesh_is_admin(GetUserId()))
		mesh_refuse_hash_call();

	load_hmac_key();
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, hmac_key, hmac_key_len) < 0 ||
		pg_hmac_update(ctx, (uint8 *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute HMAC-SHA-256: %s",
						ctx ? pg_hmac_error(ctx) : "out of memory")));
	pg_hmac_free(ctx);
	hex_encode((char *) digest, sizeof(digest), hex);
	hex[sizeof(hex) - 1] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}
