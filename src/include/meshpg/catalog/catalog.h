/*
 * catalog.h
 *		Typed access to meshpg's catalog tables and the backend-local cache
 *		that the hooks read on the hot path.
 */
#ifndef MESHPG_CATALOG_H
#define MESHPG_CATALOG_H

#include "datatype/timestamp.h"
#include "executor/spi.h"

/* Column numbers, mirrored from sql/meshpg--1.0.sql. */
#define Anum_cat_domain_id			1
#define Anum_cat_domain_name		2
#define Anum_cat_domain_owner		4
#define Anum_cat_domain_nsp			5

#define Anum_cat_product_id			1
#define Anum_cat_product_domain_id	2
#define Anum_cat_product_name		3
#define Anum_cat_product_relid		5
#define Anum_cat_product_state		6
#define Anum_cat_product_version	7

#define Anum_cat_column_tag_product_id 1
#define Anum_cat_column_tag_column	2
#define Anum_cat_column_tag_tag_id	3

#define Anum_cat_attribute_role		1
#define Anum_cat_attribute_key		2
#define Anum_cat_attribute_values	3

#define Anum_cat_policy_id			1
#define Anum_cat_policy_name		2
#define Anum_cat_policy_kind		3
#define Anum_cat_policy_tag_id		4
#define Anum_cat_policy_product_id	5
#define Anum_cat_policy_column		6
#define Anum_cat_policy_mask		7
#define Anum_cat_policy_mask_args	8
#define Anum_cat_policy_expression	9
#define Anum_cat_policy_exempt_roles 10
#define Anum_cat_policy_exempt_attributes 11
#define Anum_cat_policy_exempt_purposes 12
#define Anum_cat_policy_applies_to_domain 13

#define Anum_cat_secret_key			2

/* the events' outbox, sql/1.4/30-events.sql (written by src/events/emit.c) */
#define Natts_cat_event				9
#define Anum_cat_event_id			1
#define Anum_cat_event_type			2
#define Anum_cat_event_subject		3
#define Anum_cat_event_data			4
#define Anum_cat_event_time			5
#define Anum_cat_event_visibility	6
#define Anum_cat_event_domain_id	7
#define Anum_cat_event_product_id	8
#define Anum_cat_event_role			9

#define Anum_cat_grant_product_id	1
#define Anum_cat_grant_grantee		2
#define Anum_cat_grant_purpose		3
#define Anum_cat_grant_expires_at	4

/* meshpg.cat_port (sql/1.4/35-ports.sql), read by the ports' plugin */
#define Anum_cat_port_id			1
#define Anum_cat_port_name			2
#define Anum_cat_port_product_id	3
#define Anum_cat_port_relid			4
#define Anum_cat_port_consumer		5
#define Anum_cat_port_slot_name		6
#define Anum_cat_port_state			7
#define Anum_cat_port_reason		8
#define Anum_cat_port_rules			9
#define Anum_cat_port_compiled_in	10
#define Anum_cat_port_compiled_at	11
#define Anum_cat_port_grant_expires_at 12
#define Anum_cat_port_product_name	13
#define Anum_cat_port_product_version 14

/* OIDs of meshpg's own objects in the current database. */
typedef struct MeshCatalog
{
	Oid			nsp;
	Oid			owner;			/* owns the catalog; catalog writes run as it */
	Oid			domain_rel;
	Oid			domain_pkey;
	Oid			domain_nsp_idx;
	Oid			product_rel;
	Oid			product_relid_idx;
	Oid			column_rel;
	Oid			grant_rel;
	Oid			grant_pkey;
	Oid			tag_rel;
	Oid			column_tag_rel;
	Oid			column_tag_pkey;
	Oid			attribute_rel;
	Oid			policy_rel;
	Oid			policy_product_idx;
	Oid			policy_tag_idx;
	Oid			secret_rel;
} MeshCatalog;

typedef enum MeshProductState
{
	MESH_DRAFT,
	MESH_PUBLISHED,
	MESH_DEPRECATED,
	MESH_RETIRED
} MeshProductState;

typedef struct MeshGrant
{
	Oid			grantee;
	char	   *purpose;
	bool		has_expiry;
	TimestampTz expires_at;
} MeshGrant;

/* What the hooks need to know about a relation; cached per backend. */
typedef struct MeshProduct
{
	Oid			relid;			/* hash key */
	bool		is_product;		/* false: a negative entry */
	int64		id;
	Oid			domain_owner;
	Oid			domain_nsp;
	MeshProductState state;
	char	   *qualname;		/* domain.product, for messages */
	char	   *version;		/* the access history records it */
	int			ngrants;
	MeshGrant  *grants;
	char		relkind;
	bool		inherited;		/* relid is a partition or child of the product */
	bool		citus_shard;	/* relid is a shard or placement of it (Citus) */
	bool		citus_table;	/* relid is a Citus table: its rows are in shards */
	bool		policies_loaded;	/* policies: loaded on first use */
	List	   *policies;		/* of MeshPolicy, analysed for relid */
	List	   *compiled;		/* rules per reader identity (compile.c) */
} MeshProduct;

/* NULL when meshpg is not installed in this database. */
extern const MeshCatalog *mesh_catalog(void);

/* Bumped by every catalog invalidation: dependent caches compare it. */
extern List *mesh_relation_parents(Oid relid);
extern uint64 mesh_catalog_generation(void);

/* The memory context that product cache entries live in. */
extern MemoryContext mesh_product_cache_context(void);

/*
 * The product whose relation is relid, or NULL.  The result stays valid until
 * the next call; never hold it across one.
 */
extern const MeshProduct *mesh_product_by_relid(Oid relid);

/* The same, only if relid is the product's own relation: never walks up. */
extern const MeshProduct *mesh_product_itself(Oid relid);
extern char *mesh_product_other_ancestor(Oid relid, int64 product_id);

/* Domain owning a schema, read directly (DDL paths only). */
extern bool mesh_domain_by_nsp(Oid nsp, char **name, Oid *owner);

extern MeshProductState mesh_parse_state(const char *state);

/*
 * Catalog writes run through SPI as the catalog owner, after the caller's
 * own rights were checked.  Every statement is fixed text with parameters;
 * identifiers in generated DDL go through quote_identifier.
 */
typedef struct MeshSpiState
{
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;	/* jit = off until mesh_spi_end */
	Oid			prev_actor;		/* the governance history's author, outside */
	uint32		prev_actor_lxid;
} MeshSpiState;

extern void mesh_spi_begin(MeshSpiState *state);
/* who a catalog change is made for, or NULL during a restore's COPY (write.c) */
extern char *mesh_governance_actor(Oid relid);
extern void mesh_spi_end(MeshSpiState *state);
extern int	mesh_spi_exec(const char *sql, int nargs, Oid *argtypes,
						  Datum *values, const char *nulls);

/* The first value sql returns (NULL if none), in the caller's context. */
extern char *mesh_spi_first_value(const char *sql, int nargs, Oid *argtypes,
								  Datum *values);

/*
 * cache.c: the cluster a relation's rows may be spread over (Citus).  The
 * catalog asks it whether a relation is a shard of a product's table, so
 * that the shard is governed as the product, and tells it when the catalog
 * changes, so that the other nodes receive it.  citus/ (a layer above,
 * meshpg/citus/citus.h) registers these from src/hooks.c before any query
 * runs; the catalog refuses to look a product up without them rather than
 * take a shard for an ungoverned table.
 */
typedef struct MeshClusterOps
{
	/* the table whose shard (or placement) relid is, or InvalidOid */
	Oid			(*shard_of) (Oid relid);
	/* whether relid is a table whose rows live in shards */
	bool		(*is_table) (Oid relid);
	/* whether relid's name could name a shard (never cached as no product) */
	bool		(*shard_like_name) (Oid relid);
	/* a catalog table changed in this transaction (from its trigger) */
	void		(*catalog_changed) (Oid relid);
} MeshClusterOps;

extern void mesh_register_cluster(const MeshClusterOps *ops);

#endif							/* MESHPG_CATALOG_H */
