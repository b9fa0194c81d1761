/*
 * cache.c
 *		Backend-local cache of meshpg's catalog, kept right by invalidation.
 *
 * The hooks ask, for every relation a query touches, whether it is a data
 * product and who may read it.  That answer must cost a hash probe, so it is
 * cached per backend: entries are loaded lazily by index scans, one relation
 * at a time (never the whole catalog), and negative answers are cached too.
 *
 * Every write to a catalog table fires a statement trigger that sends a
 * relcache invalidation for that table; every backend's callback then marks
 * the cache stale.  The callback only sets a flag, because it can run in the
 * middle of a lookup (any lock acquisition accepts invalidations); the next
 * lookup drops the stale entries.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/meshpg.h"

typedef enum
{
	CATALOG_UNKNOWN,
	CATALOG_ABSENT,
	CATALOG_PRESENT
} CatalogState;

static CatalogState catalog_state = CATALOG_UNKNOWN;
static MeshCatalog catalog;

static HTAB *product_cache = NULL;
static MemoryContext product_cxt = NULL;
static bool product_cache_stale = false;

PG_FUNCTION_INFO_V1(meshpg_catalog_changed);

static uint64 catalog_generation = 0;

static bool
is_catalog_rel(Oid relid)
{
	return relid == catalog.domain_rel || relid == catalog.product_rel ||
		relid == catalog.column_rel || relid == catalog.grant_rel ||
		relid == catalog.tag_rel || relid == catalog.column_tag_rel ||
		relid == catalog.attribute_rel || relid == catalog.policy_rel ||
		relid == catalog.secret_rel;
}

uint64
mesh_catalog_generation(void)
{
	return catalog_generation;
}

static void
mesh_relcache_callback(Datum arg, Oid relid)
{
	if (catalog_state != CATALOG_PRESENT)
		return;
	if (!OidIsValid(relid) || is_catalog_rel(relid))
	{
		product_cache_stale = true;
		catalog_generation++;
		/* DROP EXTENSION drops the tables: look them up again. */
		catalog_state = CATALOG_UNKNOWN;
	}
	/* A governed relation changed (ALTER COLUMN TYPE...): analyse again. */
	else if (product_cache != NULL && !product_cache_stale &&
			 hash_search(product_cache, &relid, HASH_FIND, NULL) != NULL)
		product_cache_stale = true;
}

/*
 * CREATE EXTENSION creates schema meshpg: a cached "absent" must not outlive
 * it, nor a cached "present" outlive DROP SCHEMA.
 */
static void
mesh_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	catalog_state = CATALOG_UNKNOWN;
	product_cache_stale = true;
	catalog_generation++;
}

void
mesh_install_catalog_callbacks(void)
{
	CacheRegisterRelcacheCallback(mesh_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, mesh_namespace_callback, (Datum) 0);
}

static Oid
catalog_relid(const char *relname)
{
	return get_relname_relid(relname, catalog.nsp);
}

const MeshCatalog *
mesh_catalog(void)
{
	HeapTuple	tup;

	if (catalog_state == CATALOG_PRESENT)
		return &catalog;
	if (catalog_state == CATALOG_ABSENT)
		return NULL;

	memset(&catalog, 0, sizeof(catalog));
	catalog.nsp = get_namespace_oid("meshpg", true);
	if (!OidIsValid(catalog.nsp))
	{
		/* Creating the schema will invalidate this answer. */
		catalog_state = CATALOG_ABSENT;
		return NULL;
	}

	catalog.domain_rel = catalog_relid("cat_domain");
	catalog.domain_pkey = catalog_relid("cat_domain_pkey");
	catalog.domain_nsp_idx = catalog_relid("cat_domain_nsp_key");
	catalog.product_rel = catalog_relid("cat_product");
	catalog.product_relid_idx = catalog_relid("cat_product_relid_key");
	catalog.column_rel = catalog_relid("cat_column");
	catalog.grant_rel = catalog_relid("cat_grant");
	catalog.grant_pkey = catalog_relid("cat_grant_pkey");
	catalog.tag_rel = catalog_relid("cat_tag");
	catalog.column_tag_rel = catalog_relid("cat_column_tag");
	catalog.column_tag_pkey = catalog_relid("cat_column_tag_pkey");
	catalog.attribute_rel = catalog_relid("cat_attribute");
	catalog.policy_rel = catalog_relid("cat_policy");
	catalog.policy_product_idx = catalog_relid("cat_policy_product_idx");
	catalog.policy_tag_idx = catalog_relid("cat_policy_tag_idx");
	catalog.secret_rel = catalog_relid("cat_secret");

	/*
	 * Mid-CREATE EXTENSION, or a schema that merely shares the name: answer
	 * "absent" without caching it, since no invalidation we listen to would
	 * tell us when the tables appear.
	 */
	if (!OidIsValid(catalog.domain_rel) || !OidIsValid(catalog.domain_pkey) ||
		!OidIsValid(catalog.domain_nsp_idx) || !OidIsValid(catalog.product_rel) ||
		!OidIsValid(catalog.product_relid_idx) || !OidIsValid(catalog.column_rel) ||
		!OidIsValid(catalog.grant_rel) || !OidIsValid(catalog.grant_pkey) ||
		!OidIsValid(catalog.tag_rel) || !OidIsValid(catalog.column_tag_rel) ||
		!OidIsValid(catalog.column_tag_pkey) || !OidIsValid(catalog.attribute_rel) ||
		!OidIsValid(catalog.policy_rel) || !OidIsValid(catalog.policy_product_idx) ||
		!OidIsValid(catalog.policy_tag_idx) || !OidIsValid(catalog.secret_rel))
		return NULL;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(catalog.product_rel));
	if (!HeapTupleIsValid(tup))
		return NULL;
	catalog.owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	catalog_state = CATALOG_PRESENT;
	product_cache_stale = true;
	return &catalog;
}

MeshProductState
mesh_parse_state(const char *state)
{
	if (strcmp(state, "draft") == 0)
		return MESH_DRAFT;
	if (strcmp(state, "published") == 0)
		return MESH_PUBLISHED;
	if (strcmp(state, "deprecated") == 0)
		return MESH_DEPRECATED;
	if (strcmp(state, "retired") == 0)
		return MESH_RETIRED;
	elog(ERROR, "unexpected data product state \"%s\"", state);
	pg_unreachable();
}

static void
reset_product_cache(void)
{
	HASHCTL		ctl;

	if (product_cxt == NULL)
		product_cxt = AllocSetContextCreate(CacheMemoryContext,
											"meshpg product cache",
											ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(product_cxt);

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(MeshProduct);
	ctl.hcxt = product_cxt;
	product_cache = hash_create("meshpg products", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	product_cache_stale = false;
}

/* Reads one domain row by id: its owner, schema and name. */
static void
load_domain(int64 domain_id, Oid *owner, Oid *nsp, char **name)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		isnull;

	rel = table_open(catalog.domain_rel, AccessShareLock);
	ScanKeyInit(&key, Anum_cat_domain_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(domain_id));
	scan = systable_beginscan(rel, catalog.domain_pkey, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "meshpg catalog is inconsistent: no domain with id " INT64_FORMAT,
			 domain_id);
	*owner = DatumGetObjectId(heap_getattr(tup, Anum_cat_domain_owner,
										   RelationGetDescr(rel), &isnull));
	*nsp = DatumGetObjectId(heap_getattr(tup, Anum_cat_domain_nsp,
										 RelationGetDescr(rel), &isnull));
	*name = TextDatumGetCString(heap_getattr(tup, Anum_cat_domain_name,
											 RelationGetDescr(rel), &isnull));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

static bool load_product_row(Oid relid, MeshProduct *entry);

static void
load_grants(MeshProduct *entry)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	List	   *grants = NIL;
	ListCell   *lc;
	int			i = 0;

	rel = table_open(catalog.grant_rel, AccessShareLock);
	ScanKeyInit(&key, Anum_cat_grant_product_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(entry->id));
	scan = systable_beginscan(rel, catalog.grant_pkey, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		MeshGrant  *g = palloc(sizeof(MeshGrant));
		bool		isnull;
		Datum		d;

		g->grantee = DatumGetObjectId(heap_getattr(tup, Anum_cat_grant_grantee,
												   RelationGetDescr(rel), &isnull));
		d = heap_getattr(tup, Anum_cat_grant_purpose, RelationGetDescr(rel), &isnull);
		g->purpose = isnull ? NULL : MemoryContextStrdup(product_cxt, TextDatumGetCString(d));
		d = heap_getattr(tup, Anum_cat_grant_expires_at, RelationGetDescr(rel), &isnull);
		g->has_expiry = !isnull;
		g->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
		grants = lappend(grants, g);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	entry->ngrants = list_length(grants);
	entry->grants = entry->ngrants > 0 ?
		MemoryContextAlloc(product_cxt, sizeof(MeshGrant) * entry->ngrants) : NULL;
	foreach(lc, grants)
		entry->grants[i++] = *(MeshGrant *) lfirst(lc);
}

/* Parents of relid by pg_inherits (partitions and inheritance children). */
List *
mesh_relation_parents(Oid relid)
{
	Relation	rel = table_open(InheritsRelationId, AccessShareLock);
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	List	   *parents = NIL;

	ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		parents = lappend_oid(parents, ((Form_pg_inherits) GETSTRUCT(tup))->inhparent);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return parents;
}

/* The cluster's operations, registered by citus/ (catalog.h). */
static const MeshClusterOps *cluster_ops = NULL;

void
mesh_register_cluster(const MeshClusterOps *ops)
{
	cluster_ops = ops;
}

static inline const MeshClusterOps *
cluster(void)
{
	/* without them a shard would pass for an ungoverned table */
	if (cluster_ops == NULL)
		elog(ERROR, "meshpg's cluster operations are not registered");
	return cluster_ops;
}

/*
 * Ancestor walks.  A partition or inheritance child of a product is governed
 * as that product, so that reading it directly is no way around the
 * product's policies: for every relation a query reads, the hooks ask
 * whether it or one of its ancestors (by pg_inherits) is a product.
 *
 * Anyone with TEMP can build inheritance graphs of their own tables, tens of
 * thousands of levels deep, or "diamonds" in which each level inherits from
 * both tables of the level below (2^depth paths).  The walk is therefore
 * iterative (an explicit stack, not C recursion), visits each relation once
 * (a visited set), stops at the first ancestor whose answer is already
 * cached, and checks for interrupts at each step: it costs one catalog
 * probe per relation of the graph, never one per path.  It is depth-first
 * in pg_inherits order, as the recursive walk it replaces, so that a child
 * of two products is governed as the same one as before.
 *
 * Every relation the walk reached is cached with its answer: the ones on the
 * path to the product (they are its descendants) and the ones it left
 * without finding one (negative).  A later read of any of them is a hash
 * probe, a query that expands a deep tree asks each child once, and any
 * relcache invalidation of one of them (ATTACH, DETACH, INHERIT, NO
 * INHERIT, DROP send one for the child) resets the whole cache, so that no
 * descendant keeps an answer its ancestors no longer give.
 */

/*
 * The relations whose product relid is governed as: a Citus shard's table
 * first (on any node, a shard's rows are its table's rows; the table may in
 * turn be a partition of the product), then its parents by pg_inherits.
 */
static List *
ancestors_of(Oid relid)
{
	Oid			logical = cluster()->shard_of(relid);
	List	   *parents = mesh_relation_parents(relid);

	return OidIsValid(logical) ? lcons_oid(logical, parents) : parents;
}

/* The product row of relid itself, and whether relid is a Citus table. */
static bool
load_own_row(Oid relid, MeshProduct *entry)
{
	if (!load_product_row(relid, entry))
		return false;
	entry->citus_table = cluster()->is_table(relid);
	return true;
}

typedef struct WalkFrame
{
	Oid			relid;
	List	   *parents;		/* by pg_inherits seqno */
	int			next;			/* the next parent to visit */
} WalkFrame;

/* One walk's answers, inserted into the cache once the walk is over. */
typedef struct WalkResult
{
	bool		found;
	bool		loaded;			/* found by reading the product's own row */
	MeshProduct product;		/* the product (or a cached descendant) */
	List	   *positive;		/* relids governed as that product */
	List	   *negative;		/* relids with no product above them */
} WalkResult;

static void
walk_ancestors(Oid relid, List *parents, WalkResult *result)
{
	MemoryContext walk_cxt = AllocSetContextCreate(CurrentMemoryContext,
												   "meshpg ancestor walk",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(walk_cxt);
	HASHCTL		ctl;
	HTAB	   *visited;
	WalkFrame  *stack;
	int			depth = 0;
	int			size = 64;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = walk_cxt;
	visited = hash_create("meshpg visited relations", 256, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	(void) hash_search(visited, &relid, HASH_ENTER, NULL);
	stack = palloc(sizeof(WalkFrame) * size);
	stack[0].relid = relid;
	stack[0].parents = parents;
	stack[0].next = 0;

	while (depth >= 0 && !result->found)
	{
		WalkFrame  *top = &stack[depth];
		Oid			parent;
		bool		seen;
		MeshProduct *cached = NULL;

		if (top->next >= list_length(top->parents))
		{
			/* every ancestor of top was visited: none is a product */
			if (depth > 0)
			{
				MemoryContextSwitchTo(oldcxt);
				result->negative = lappend_oid(result->negative, top->relid);
				MemoryContextSwitchTo(walk_cxt);
			}
			depth--;
			continue;
		}
		parent = list_nth_oid(top->parents, top->next++);
		(void) hash_search(visited, &parent, HASH_ENTER, &seen);
		if (seen)
			continue;			/* reached before by another path */
		CHECK_FOR_INTERRUPTS();

		/* an ancestor already answered for answers for its own ancestors */
		if (!product_cache_stale)
			cached = hash_search(product_cache, &parent, HASH_FIND, NULL);
		if (cached != NULL)
		{
			if (cached->is_product)
			{
				result->found = true;
				result->product = *cached;
			}
			continue;
		}
		MemoryContextSwitchTo(oldcxt);
		result->found = load_own_row(parent, &result->product);
		MemoryContextSwitchTo(walk_cxt);
		if (result->found)
		{
			result->loaded = true;
			result->product.relid = parent;
			result->product.is_product = true;
			continue;
		}
		if (++depth >= size)
		{
			size *= 2;
			stack = repalloc(stack, sizeof(WalkFrame) * size);
		}
		stack[depth].relid = parent;
		stack[depth].parents = ancestors_of(parent);
		stack[depth].next = 0;
	}

	/* the relations on the stack lead to the product: its descendants */
	MemoryContextSwitchTo(oldcxt);
	if (result->found)
		for (int i = 0; i <= depth; i++)
			result->positive = lappend_oid(result->positive, stack[i].relid);
	MemoryContextDelete(walk_cxt);
}

/*
 * Enters relid's answer, unless it is there: product (NULL for a negative
 * answer), as the product itself or as one of its descendants.
 */
static void
cache_answer(Oid relid, const MeshProduct *product, bool inherited)
{
	MeshProduct *entry;
	bool		found;

	/*
	 * A relation named like a Citus shard may become one (Citus creates the
	 * table before its metadata row, and shard moves create new ones):
	 * never remember that it is not one.
	 */
	if (product == NULL && cluster()->shard_like_name(relid))
		return;
	entry = hash_search(product_cache, &relid, HASH_ENTER, &found);
	if (found)
		return;
	memset(entry, 0, sizeof(MeshProduct));
	entry->relid = relid;
	if (product == NULL)
		return;
	*entry = *product;
	entry->relid = relid;
	entry->is_product = true;
	entry->inherited = inherited;
	if (inherited)
	{
		entry->relkind = get_rel_relkind(relid);
		/* a Citus shard's rows are its product's: it is read as a shard */
		if (OidIsValid(cluster()->shard_of(relid)))
		{
			entry->citus_shard = true;
			entry->citus_table = false;
		}
	}
	/* policies are analysed for each relation's own columns */
	entry->policies_loaded = false;
	entry->policies = NIL;
	entry->compiled = NIL;
}

/* Fills entry from the product row registered for relid itself. */
static bool
load_product_row(Oid relid, MeshProduct *entry)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;
	int64		domain_id = 0;
	char	   *name = NULL;
	char	   *state = NULL;
	char	   *version = NULL;

	rel = table_open(catalog.product_rel, AccessShareLock);
	ScanKeyInit(&key, Anum_cat_product_relid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, catalog.product_relid_idx, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;

		found = true;
		entry->id = DatumGetInt64(heap_getattr(tup, Anum_cat_product_id, desc, &isnull));
		domain_id = DatumGetInt64(heap_getattr(tup, Anum_cat_product_domain_id, desc, &isnull));
		name = TextDatumGetCString(heap_getattr(tup, Anum_cat_product_name, desc, &isnull));
		state = TextDatumGetCString(heap_getattr(tup, Anum_cat_product_state, desc, &isnull));
		version = TextDatumGetCString(heap_getattr(tup, Anum_cat_product_version, desc, &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!found)
		return false;

	{
		char	   *domain_name;

		entry->state = mesh_parse_state(state);
		entry->relkind = get_rel_relkind(relid);
		entry->inherited = false;
		load_domain(domain_id, &entry->domain_owner, &entry->domain_nsp, &domain_name);
		entry->qualname = MemoryContextStrdup(product_cxt,
											  psprintf("%s.%s", domain_name, name));
		entry->version = MemoryContextStrdup(product_cxt, version);
	}
	load_grants(entry);
	return true;
}

MemoryContext
mesh_product_cache_context(void)
{
	return product_cxt;
}

/*
 * The lookup behind mesh_product_by_relid and mesh_product_itself: with
 * climb false, a relation that is no product itself is answered NULL without
 * walking up (and the answer, incomplete, is not cached).
 */
static const MeshProduct *
product_lookup(Oid relid, bool climb)
{
	MeshProduct *entry;

	if (mesh_catalog() == NULL)
		return NULL;

	for (;;)
	{
		MeshProduct loaded;
		List	   *parents;
		WalkResult	walk;
		ListCell   *lc;

		if (product_cache == NULL || product_cache_stale)
			reset_product_cache();

		entry = hash_search(product_cache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			return entry->is_product && (climb || !entry->inherited) ? entry : NULL;

		/* meshpg's own tables are never products; don't recurse into them. */
		if (is_catalog_rel(relid))
			return NULL;

		/*
		 * The relation's own row; then, only for a relation that has parents
		 * (a partition, or a row in pg_inherits), the walk up.  Loading takes
		 * locks, which may process invalidations and reset the cache, whose
		 * memory holds what was loaded: then load again.  What is loaded is
		 * right, since the catalog snapshot was taken after those locks.
		 */
		memset(&loaded, 0, sizeof(loaded));
		loaded.relid = relid;
		if (load_own_row(relid, &loaded))
		{
			if (product_cache_stale)
				continue;
			loaded.is_product = true;
			cache_answer(relid, &loaded, false);
			break;
		}
		if (!climb)
			return NULL;
		parents = ancestors_of(relid);
		if (parents == NIL)
		{
			if (product_cache_stale)
				continue;
			if (cluster()->shard_like_name(relid))
				return NULL;	/* see cache_answer */
			cache_answer(relid, NULL, false);
			break;
		}

		memset(&walk, 0, sizeof(walk));
		walk_ancestors(relid, parents, &walk);
		if (product_cache_stale)
			continue;
		if (walk.loaded)
			cache_answer(walk.product.relid, &walk.product, false);
		foreach(lc, walk.negative)
			cache_answer(lfirst_oid(lc), NULL, false);
		foreach(lc, walk.positive)
			cache_answer(lfirst_oid(lc), &walk.product, true);
		if (!walk.found)
		{
			if (cluster()->shard_like_name(relid))
				return NULL;	/* see cache_answer */
			cache_answer(relid, NULL, false);
		}
		break;
	}

	entry = hash_search(product_cache, &relid, HASH_FIND, NULL);
	Assert(entry != NULL);
	return entry->is_product && (climb || !entry->inherited) ? entry : NULL;
}

const MeshProduct *
mesh_product_by_relid(Oid relid)
{
	return product_lookup(relid, true);
}

/*
 * The product whose own relation is relid, or NULL (also for a partition or
 * child of one).  The DDL guard needs no more: dropping, renaming or moving
 * a product's descendant is the domain team's business.  It never walks the
 * ancestors, so that dropping the members of a deep inheritance tree one by
 * one (each drop resets the cache) does not walk the tree once per drop.
 */
const MeshProduct *
mesh_product_itself(Oid relid)
{
	return product_lookup(relid, false);
}

/*
 * A relation that inherits (by multiple inheritance, at any depth) from two
 * products is governed as the first one the walk up finds: read directly,
 * the other product's masks and row filters on the columns and rows it
 * shares with that product would not apply.  Returns the qualified name of
 * a product other than product_id that relid also descends from, by a path
 * that does not go through product_id's relation, or NULL.  It does not
 * climb above a product (a product's own ancestors govern it through it).
 * Iterative, each relation once; only reads of a descendant named directly
 * ask (the planner, for each such entry), so its cost is the size of that
 * relation's ancestry.
 */
char *
mesh_product_other_ancestor(Oid relid, int64 product_id)
{
	HASHCTL		ctl;
	HTAB	   *visited;
	List	   *pending = list_make1_oid(relid);
	char	   *other = NULL;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = CurrentMemoryContext;
	visited = hash_create("meshpg other product ancestors", 64, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	(void) hash_search(visited, &relid, HASH_ENTER, NULL);
	while (pending != NIL && other == NULL)
	{
		Oid			current = llast_oid(pending);
		List	   *parents;
		ListCell   *lc;

		pending = list_delete_last(pending);
		CHECK_FOR_INTERRUPTS();
		parents = mesh_relation_parents(current);
		foreach(lc, parents)
		{
			Oid			parent = lfirst_oid(lc);
			const MeshProduct *p;
			bool		seen;

			(void) hash_search(visited, &parent, HASH_ENTER, &seen);
			if (seen)
				continue;
			p = mesh_product_itself(parent);
			if (p == NULL)
				pending = lappend_oid(pending, parent);
			else if (p->id != product_id)
			{
				other = pstrdup(p->qualname);
				break;
			}
		}
		list_free(parents);
	}
	list_free(pending);
	hash_destroy(visited);
	return other;
}

bool
mesh_domain_by_nsp(Oid nsp, char **name, Oid *owner)
{
	const MeshCatalog *cat = mesh_catalog();
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;

	if (cat == NULL)
		return false;
	rel = table_open(cat->domain_rel, AccessShareLock);
	ScanKeyInit(&key, Anum_cat_domain_nsp, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(nsp));
	scan = systable_beginscan(rel, cat->domain_nsp_idx, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		found = true;
		*name = TextDatumGetCString(heap_getattr(tup, Anum_cat_domain_name,
												 RelationGetDescr(rel), &isnull));
		*owner = DatumGetObjectId(heap_getattr(tup, Anum_cat_domain_owner,
											   RelationGetDescr(rel), &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Statement trigger on every catalog table: tell every backend (this one at
 * the next command) that the catalog changed.
 */
Datum
meshpg_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("meshpg._catalog_changed() must be called as a trigger")));

	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	/* on a Citus coordinator, the other nodes learn it in this transaction */
	cluster()->catalog_changed(RelationGetRelid(trigdata->tg_relation));
	PG_RETURN_POINTER(NULL);
}
