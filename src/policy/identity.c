/*
 * identity.c
 *		Who is reading: the roles a query runs as, their attributes, and the
 *		purpose they declared for the session.
 *
 * Policies are specialised at plan time for the reader, so whatever the
 * reader is made of must invalidate plans when it changes:
 *  - attributes and grants are catalog rows (relcache invalidation);
 *  - role membership: a syscache callback resets the plan cache;
 *  - meshpg.purpose: its assign hook resets the plan cache;
 *  - the outer user (SET ROLE) is checked wherever meshpg runs, and a
 *    change resets the plan cache, so that a plan cached inside a SECURITY
 *    DEFINER function (whose current user never changes) is not reused for
 *    another caller.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/policy/policy.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_attribute);
PG_FUNCTION_INFO_V1(meshpg_purpose);

char	   *mesh_session_purpose = NULL;
uint64		mesh_purpose_generation = 0;

static Oid	known_outer_user = InvalidOid;

/* All attribute rows, cached until the catalog changes. */
typedef struct AttributeRow
{
	Oid			role;
	char	   *key;
	List	   *values;
} AttributeRow;

typedef struct AttributeAnswer
{
	char		key[sizeof(Oid) + NAMEDATALEN]; /* role and attribute key */
	List	   *values;
} AttributeAnswer;

static List *attribute_rows = NIL;
static HTAB *attribute_answers = NULL;
static uint64 attribute_generation = 0;
static uint64 membership_generation = 0;
static MemoryContext attribute_cxt = NULL;

static void
load_attribute_rows(void)
{
	const MeshCatalog *cat = mesh_catalog();
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	MemoryContext old;
	uint64		generation;

	if (cat == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"meshpg\" is not installed in this database")));
	generation = mesh_catalog_generation();
	if (attribute_cxt != NULL && generation == attribute_generation)
		return;

	if (attribute_cxt == NULL)
		attribute_cxt = AllocSetContextCreate(CacheMemoryContext, "meshpg attributes",
											  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(attribute_cxt);
	attribute_rows = NIL;
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid) + NAMEDATALEN;
		ctl.entrysize = sizeof(AttributeAnswer);
		ctl.hcxt = attribute_cxt;
		attribute_answers = hash_create("meshpg attribute answers", 64, &ctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	rel = table_open(cat->attribute_rel, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	old = MemoryContextSwitchTo(attribute_cxt);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		AttributeRow *row = palloc0(sizeof(AttributeRow));
		bool		isnull;

		row->role = DatumGetObjectId(heap_getattr(tup, Anum_cat_attribute_role,
												  RelationGetDescr(rel), &isnull));
		row->key = TextDatumGetCString(heap_getattr(tup, Anum_cat_attribute_key,
													RelationGetDescr(rel), &isnull));
		row->values = mesh_text_array_list(heap_getattr(tup, Anum_cat_attribute_values,
														RelationGetDescr(rel), &isnull));
		attribute_rows = lappend(attribute_rows, row);
	}
	MemoryContextSwitchTo(old);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	/* Loading took locks; a change it saw is in what we read. */
	attribute_generation = mesh_catalog_generation();
}

/*
 * The values of attribute key for role: the union over the role and every
 * role whose privileges it has (attributes set on a group apply to its
 * members).  Palloc'd in the caller's context.
 */
/* A key already in normal form (lower-case ASCII name) needs no ICU. */
static bool
is_plain_key(const char *key)
{
	if (!(*key >= 'a' && *key <= 'z'))
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return strlen(key) < NAMEDATALEN;
}

List *
mesh_role_attribute(Oid role, const char *key)
{
	List	   *result = NIL;
	ListCell   *lc;
	/* planning calls this per policy and role: keep ICU off the hot path */
	char	   *norm = is_plain_key(key) ? (char *) key :
		mesh_normalize_name(key, "attribute", true);
	AttributeAnswer *answer;
	bool		found;
	struct
	{
		Oid			role;
		char		key[NAMEDATALEN];
	}			hkey;

	if (norm == NULL)
		return NIL;
	/* explain_access(at => t): the attributes in force then (asof.c) */
	if (mesh_asof_active())
		return mesh_asof_role_attribute(role, norm);
	load_attribute_rows();

	/* Answers are cached per role and key until the catalog changes. */
	memset(&hkey, 0, sizeof(hkey));
	hkey.role = role;
	strlcpy(hkey.key, norm, NAMEDATALEN);
	answer = hash_search(attribute_answers, &hkey, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(attribute_cxt);

		answer->values = NIL;
		foreach(lc, attribute_rows)
		{
			AttributeRow *row = lfirst(lc);
			ListCell   *vc;

			if (strcmp(row->key, norm) != 0 || !has_privs_of_role(role, row->role))
				continue;
			foreach(vc, row->values)
				if (!list_member(answer->values, makeString(lfirst(vc))))
					answer->values = lappend(answer->values, makeString(pstrdup(lfirst(vc))));
		}
		MemoryContextSwitchTo(old);
	}
	foreach(lc, answer->values)
		result = lappend(result, makeString(pstrdup(strVal(lfirst(lc)))));
	return result;
}

/*
 * Whether role holds, directly or through a role, an unexpired grant with
 * this purpose, on any product.  (Per product, the compiler reads the
 * product's cached grants.)
 */
bool
mesh_purpose_allowed(Oid role, const char *purpose)
{
	const MeshCatalog *cat = mesh_catalog();
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		allowed = false;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (purpose == NULL || purpose[0] == '\0' || cat == NULL)
		return false;
	rel = table_open(cat->grant_rel, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (!allowed && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;

		d = heap_getattr(tup, Anum_cat_grant_purpose, desc, &isnull);
		if (isnull || strcmp(TextDatumGetCString(d), purpose) != 0)
			continue;
		d = heap_getattr(tup, Anum_cat_grant_expires_at, desc, &isnull);
		if (!isnull && DatumGetTimestampTz(d) <= now)
			continue;
		d = heap_getattr(tup, Anum_cat_grant_grantee, desc, &isnull);
		allowed = has_privs_of_role(role, DatumGetObjectId(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return allowed;
}

/*
 * SET meshpg.purpose is accepted only if one of the role's grants names
 * that purpose.  Where it cannot be checked (at connection start, from a
 * configuration file) it is accepted here and checked where it counts:
 * a purpose exempts from a policy only if the reader's grant on that very
 * product names it.
 */
static bool
check_purpose(char **newval, void **extra, GucSource source)
{
	Oid			role;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!IsTransactionState() || IsAbortedTransactionBlockState() || mesh_catalog() == NULL)
		return true;
	role = GetUserId();
	if (mesh_is_admin(role) || mesh_purpose_allowed(role, *newval))
		return true;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("purpose \"%s\" is not allowed for role \"%s\"",
					 *newval, GetUserNameFromId(role, false));
	GUC_check_errdetail("None of the role's access grants names this purpose.");
	GUC_check_errhint("Ask the owning domain team for a grant with this purpose.");
	return false;
}

static void
assign_purpose(const char *newval, void *extra)
{
	/* Plans were specialised for the old purpose, history records name it. */
	ResetPlanCache();
	mesh_purpose_generation++;
}

/* A role membership change can make a reader exempt, or no longer. */
static void
membership_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	ResetPlanCache();
	attribute_generation = (uint64) -1;		/* answers depend on membership */
	membership_generation++;
}

/* Bumped by every change to roles or memberships: compiled rules compare it. */
uint64
mesh_membership_generation(void)
{
	return membership_generation;
}

/*
 * Called wherever meshpg runs (planner, executor start, utility, function
 * entry and exit): a changed outer user, however it changed (SET ROLE,
 * set_config(), the end of a SET LOCAL), resets the plan cache.
 */
void
mesh_track_outer_user(void)
{
	Oid			outer = GetOuterUserId();

	if (outer != known_outer_user)
	{
		if (OidIsValid(known_outer_user))
			ResetPlanCache();
		known_outer_user = outer;
	}
}

/*
 * The roles a query is governed for: the current user and the outer user
 * (the role of SET ROLE, which SECURITY DEFINER functions and maintenance
 * commands do not change).  A policy is lifted only if it is lifted for
 * both.
 */
List *
mesh_reader_roles(void)
{
	Oid			current = GetUserId();
	Oid			outer = GetOuterUserId();

	if (current == outer)
		return list_make1_oid(current);
	return list_make2_oid(current, outer);
}

void
mesh_define_identity_settings(void)
{
	DefineCustomStringVariable("meshpg.purpose",
							   "The purpose this session reads data for.",
							   "Accepted only if one of the role's access grants names it.",
							   &mesh_session_purpose,
							   "",
							   PGC_USERSET,
							   0,
							   check_purpose, assign_purpose, NULL);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, membership_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, membership_callback, (Datum) 0);
}

/* meshpg.attribute(key): the current user's values of an attribute. */
Datum
meshpg_attribute(PG_FUNCTION_ARGS)
{
	List	   *values;
	Datum	   *elems;
	ListCell   *lc;
	int			i = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	values = mesh_role_attribute(GetUserId(), text_to_cstring(PG_GETARG_TEXT_PP(0)));
	elems = palloc(sizeof(Datum) * (list_length(values) + 1));
	foreach(lc, values)
		elems[i++] = CStringGetTextDatum(strVal(lfirst(lc)));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, i, TEXTOID, -1, false, TYPALIGN_INT));
}

/* meshpg.purpose(): the session's declared purpose, or NULL. */
Datum
meshpg_purpose(PG_FUNCTION_ARGS)
{
	if (mesh_session_purpose == NULL || mesh_session_purpose[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(mesh_session_purpose));
}
