/*
 * sqlcall.c
 *		What every SQL-callable function needs: arguments, the caller's
 *		rights, name resolution, and plan invalidation after a catalog
 *		change (meshpg/catalog/sqlcall.h).  Below every concern that has SQL
 *		functions, so that none of them reaches up into the registry.
 */
#include "postgres.h"
#include "utils/syscache.h"
#include "catalog/pg_class.h"
#include "access/htup_details.h"

#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "meshpg/catalog/sqlcall.h"
#include "meshpg/text/text.h"

char *
mesh_arg_text(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

char *
mesh_arg_text_opt(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

bool
mesh_arg_bool(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	return PG_GETARG_BOOL(argno);
}

Oid
mesh_arg_role(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	Oid			role;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	role = PG_GETARG_OID(argno);
	/* regrole '-' is InvalidOid; a stale OID names no role */
	if (!OidIsValid(role) || GetUserNameFromId(role, true) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));
	return role;
}

/*
 * A text[] of non-empty, non-null strings (contacts, allowed values,
 * purposes).  Returns the array datum as given.
 */
Datum
mesh_arg_text_array(FunctionCallInfo fcinfo, int argno, const char *argname, bool *isnull)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	*isnull = PG_ARGISNULL(argno);
	if (*isnull)
		return (Datum) 0;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", argname)));
		if (VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i])) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain empty strings", argname)));
	}
	return PointerGetDatum(arr);
}

/*
 * A text[] read from the catalog as a List of C strings, its NULL elements
 * left out (policies' exempt purposes, attribute values, retention columns).
 */
List *
mesh_text_array_list(Datum array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *result = NIL;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			result = lappend(result, TextDatumGetCString(elems[i]));
	return result;
}

/* Dot-separated identifiers of [0-9A-Za-z-], none empty, up to stop. */
static const char *
scan_identifiers(const char *p, char stop)
{
	bool		empty = true;

	for (; *p && *p != stop; p++)
	{
		if (*p == '.')
		{
			if (empty)
				return NULL;
			empty = true;
		}
		else if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
				 (*p >= 'A' && *p <= 'Z') || *p == '-')
			empty = false;
		else
			return NULL;
	}
	return empty ? NULL : p;
}

/* Semantic versioning 2.0: MAJOR.MINOR.PATCH[-prerelease][+build]. */
void
mesh_check_version(const char *version)
{
	const char *p = version;

	for (int part = 0; part < 3; part++)
	{
		const char *start = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start || (p - start > 1 && *start == '0') || p - start > 9)
			goto bad;
		if (part < 2)
		{
			if (*p != '.')
				goto bad;
			p++;
		}
	}
	if (*p == '-' && (p = scan_identifiers(p + 1, '+')) == NULL)
		goto bad;
	if (*p == '+' && (p = scan_identifiers(p + 1, '\0')) == NULL)
		goto bad;
	if (*p == '\0')
		return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid semantic version \"%s\"", version),
			 errhint("Use MAJOR.MINOR.PATCH, for example 1.2.0.")));
}

/* The governance team: superusers and members of meshpg_admin. */
bool
mesh_is_admin(Oid role)
{
	Oid			admin = get_role_oid("meshpg_admin", true);

	return superuser_arg(role) || (OidIsValid(admin) && has_privs_of_role(role, admin));
}

void
mesh_require_admin(Oid caller, const char *action)
{
	if (mesh_is_admin(caller))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s", action),
			 errdetail("Only the governance team (members of role \"meshpg_admin\") and superusers may.")));
}

/* Product-bound governance: the governance team or the domain's team. */
void
mesh_require_admin_or_member(Oid caller, const MeshDomain *domain)
{
	if (!mesh_is_admin(caller))
		mesh_require_domain_member(caller, domain);
}

void
mesh_require_domain_member(Oid caller, const MeshDomain *domain)
{
	if (has_privs_of_role(caller, domain->owner))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for domain \"%s\"", domain->name),
			 errdetail("Only members of role \"%s\" manage the data products of domain \"%s\".",
					   GetUserNameFromId(domain->owner, false), domain->name)));
}

/* Schema-qualified, quoted name of a relation, for generated DDL. */
char *
mesh_relation_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static char *
get_text(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, desc, col, isnull);

	return *isnull ? NULL : TextDatumGetCString(d);
}

static void
fill_domain(HeapTuple tup, TupleDesc desc, int first, MeshDomain *out)
{
	bool		isnull;

	out->id = DatumGetInt64(SPI_getbinval(tup, desc, first, &isnull));
	out->name = get_text(tup, desc, first + 1, &isnull);
	out->owner = DatumGetObjectId(SPI_getbinval(tup, desc, first + 2, &isnull));
	out->nsp = DatumGetObjectId(SPI_getbinval(tup, desc, first + 3, &isnull));
}

void
mesh_resolve_domain(const char *name, bool for_update, MeshDomain *out)
{
	char	   *norm = mesh_normalize_name(name, "domain", true);
	Datum		arg;
	Oid			argtype = TEXTOID;

	if (norm != NULL)
	{
		arg = CStringGetTextDatum(norm);
		mesh_spi_exec(for_update ?
					  "SELECT id, name, owner::oid, nsp::oid FROM meshpg.cat_domain WHERE name = $1 FOR UPDATE" :
					  "SELECT id, name, owner::oid, nsp::oid FROM meshpg.cat_domain WHERE name = $1",
					  1, &argtype, &arg, NULL);
	}
	if (norm == NULL || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("domain \"%s\" does not exist", name)));

	fill_domain(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, out);
}

/*
 * A product name, or name@N for major version N >= 2 (contract/versions.c),
 * normalised; NULL if invalid.
 */
static char *
mesh_version_name(const char *input)
{
	const char *at = strchr(input, '@');
	char	   *base;
	const char *p;

	if (at == NULL)
		return mesh_normalize_name(input, "data product", true);
	base = mesh_normalize_name(pnstrdup(input, at - input), "data product", true);
	if (base == NULL || at[1] < '1' || at[1] > '9' || strlen(at + 1) > 9)
		return NULL;
	for (p = at + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return NULL;
	if (strcmp(at + 1, "1") == 0)
		return NULL;			/* the first major has no suffix */
	return psprintf("%s%s", base, at);
}

/*
 * A hint for a name that does not exist: up to three existing names nearest
 * to it by edit distance (the catalog's names are readable by everyone, so
 * naming them reveals nothing), or else "otherwise", which says where to
 * look.  sql returns the candidate names as its first column.  An error
 * path only: one pass over the names, cheap for any catalog a person reads.
 */
char *
mesh_nearest_names_hint(const char *sql, const char *input, const char *otherwise)
{
	const char *best[3] = {NULL, NULL, NULL};
	int			bestd[3] = {0, 0, 0};
	int			nbest = 0;
	int			ilen = strlen(input);
	int			limit = Max(2, ilen / 3);
	StringInfoData hint;

	/* varstr_levenshtein refuses strings over 255 bytes: no guess then */
	if (ilen > 0 && ilen <= 255)
	{
		mesh_spi_exec(sql, 0, NULL, NULL, NULL);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			int			d;
			int			pos;

			if (name == NULL || strlen(name) > 255)
				continue;
			d = varstr_levenshtein(input, ilen, name, strlen(name), 1, 1, 1, true);
			if (d > limit)
				continue;
			/* insert by (distance, name); the query returns names sorted */
			for (pos = nbest; pos > 0 && bestd[pos - 1] > d; pos--)
				;
			if (pos >= 3)
				continue;
			for (int j = Min(nbest, 2); j > pos; j--)
			{
				best[j] = best[j - 1];
				bestd[j] = bestd[j - 1];
			}
			best[pos] = name;
			bestd[pos] = d;
			nbest = Min(nbest + 1, 3);
		}
	}
	if (nbest == 0)
		return pstrdup(otherwise);
	initStringInfo(&hint);
	appendStringInfoString(&hint, "Did you mean ");
	for (int i = 0; i < nbest; i++)
		appendStringInfo(&hint, "%s\"%s\"",
						 i == 0 ? "" : (i == nbest - 1 ? " or " : ", "), best[i]);
	appendStringInfoString(&hint, "?");
	return hint.data;
}

void
mesh_resolve_product(const char *ref, bool for_update, MeshProductRow *out)
{
	const char *dot = strchr(ref, '.');
	char	   *domain = NULL;
	char	   *name = NULL;
	Datum		args[2];
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	if (dot == NULL || dot == ref || dot[1] == '\0' || strchr(dot + 1, '.') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid data product name \"%s\"", ref),
				 errhint("Name a data product as domain.product, for example payments.transactions.")));

	domain = mesh_normalize_name(pnstrdup(ref, dot - ref), "domain", true);
	name = mesh_version_name(dot + 1);
	if (domain != NULL && name != NULL)
	{
		args[0] = CStringGetTextDatum(domain);
		args[1] = CStringGetTextDatum(name);
		mesh_spi_exec(for_update ?
					  "SELECT p.id, p.name, p.relid::oid, p.state, p.version, p.description, p.sunset, p.guard_enabled_rls, "
					  "       d.id, d.name, d.owner::oid, d.nsp::oid "
					  "  FROM meshpg.cat_product p JOIN meshpg.cat_domain d ON d.id = p.domain_id "
					  " WHERE d.name = $1 AND p.name = $2 FOR UPDATE OF p" :
					  "SELECT p.id, p.name, p.relid::oid, p.state, p.version, p.description, p.sunset, p.guard_enabled_rls, "
					  "       d.id, d.name, d.owner::oid, d.nsp::oid "
					  "  FROM meshpg.cat_product p JOIN meshpg.cat_domain d ON d.id = p.domain_id "
					  " WHERE d.name = $1 AND p.name = $2",
					  2, argtypes, args, NULL);
	}
	if (domain == NULL || name == NULL || SPI_processed == 0)
	{
		/* the hint runs a query: before ereport, never inside it */
		char	   *hint = mesh_nearest_names_hint("SELECT d.name || '.' || p.name FROM meshpg.cat_product p"
												   "  JOIN meshpg.cat_domain d ON d.id = p.domain_id ORDER BY 1",
												   ref,
												   "List the data products with SELECT product FROM meshpg.products, or find one with meshpg.search('some words').");

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("data product \"%s\" does not exist", ref),
				 errhint("%s", hint)));
	}

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	out->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	out->name = get_text(tup, desc, 2, &isnull);
	out->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	out->state_name = get_text(tup, desc, 4, &isnull);
	out->state = mesh_parse_state(out->state_name);
	out->version = get_text(tup, desc, 5, &isnull);
	out->description = get_text(tup, desc, 6, &isnull);
	d = SPI_getbinval(tup, desc, 7, &isnull);
	out->has_sunset = !isnull;
	out->sunset = isnull ? 0 : DatumGetDateADT(d);
	out->guard_enabled_rls = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
	fill_domain(tup, desc, 9, &out->domain);
	out->qualname = psprintf("%s.%s", out->domain.name, out->name);
}

/*
 * Plans that read these products were specialised for the old policies,
 * grants or owners: invalidate them in every backend, including plans that
 * read a partition or child directly.  The query yields product relids.
 */
void
mesh_invalidate_products(const char *query, int64 id)
{
	Datum		arg = Int64GetDatum(id);
	Oid			argtype = INT8OID;
	List	   *relids = NIL;
	ListCell   *lc;

	mesh_spi_exec(query, id != 0 ? 1 : 0, &argtype, &arg, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));

		relids = list_concat(relids, find_all_inheritors(relid, NoLock, NULL));
	}
	foreach(lc, relids)
		CacheInvalidateRelcacheByRelid(lfirst_oid(lc));
}

/* Search documents are derived data: rebuild them after every change. */
void
mesh_refresh_search_product(int64 product_id)
{
	Datum		arg = Int64GetDatum(product_id);
	Oid			argtype = INT8OID;

	mesh_spi_exec("UPDATE meshpg.cat_product SET search_doc = meshpg._search_doc(id), "
				  "updated_at = now() WHERE id = $1", 1, &argtype, &arg, NULL);
}

void
mesh_refresh_search_domain(int64 domain_id)
{
	Datum		arg = Int64GetDatum(domain_id);
	Oid			argtype = INT8OID;

	mesh_spi_exec("UPDATE meshpg.cat_product SET search_doc = meshpg._search_doc(id) "
				  "WHERE domain_id = $1", 1, &argtype, &arg, NULL);
}

/*
 * A one-dimensional array without nulls of n 8-byte values of elemtype
 * (int8, timestamptz), copied from values in one go, or zeros when values
 * is NULL: for arrays built row by row on hot paths, where construct_array's
 * per-element work would show.
 */
ArrayType *
mesh_int64_array(const int64 *values, int n, Oid elemtype)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + sizeof(int64) * n;
	ArrayType  *array = palloc0(size);

	SET_VARSIZE(array, size);
	array->ndim = 1;
	array->dataoffset = 0;
	array->elemtype = elemtype;
	ARR_DIMS(array)[0] = n;
	ARR_LBOUND(array)[0] = 1;
	/* ARR_DATA_PTR without its NULL-bitmap case, which -Wextra rejects */
	if (values != NULL)
		memcpy((char *) array + ARR_OVERHEAD_NONULLS(1), values, sizeof(int64) * n);
	return array;
}

/*
 * Runs what follows as relid's owner (on), or back as before (off).  An
 * error in between is undone by the transaction's abort.  For the DDL
 * meshpg runs on a product's relation (its guard, its grants): Citus
 * propagates DDL on a connection of the current user, and only the
 * owner's connection sees a table it distributed in the same transaction.
 */
void
mesh_as_relation_owner(Oid relid, bool on)
{
	static Oid	saved_user = InvalidOid;
	static int	saved_sec = 0;

	if (on)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		Oid			owner;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for relation %u", relid);
		owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
		ReleaseSysCache(tup);
		GetUserIdAndSecContext(&saved_user, &saved_sec);
		SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	}
	else
		SetUserIdAndSecContext(saved_user, saved_sec);
}
