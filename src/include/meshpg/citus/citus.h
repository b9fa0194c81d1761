/*
 * citus.h
 *		meshpg on a Citus cluster: which relations are Citus tables or their
 *		shards, whether this backend serves the coordinator's shard queries,
 *		and the catalog sent to the other nodes.
 */
#ifndef MESHPG_CITUS_H
#define MESHPG_CITUS_H

#include "meshpg/catalog/catalog.h"
#include "meshpg/hooks.h"

/*
 * A plan mark (governance.h lists the others): the plan calls a Citus
 * function after which the catalog is sent (planner.c sets it, citus.c's
 * ExecutorEnd step reads it).
 */
#define MESH_MARK_CITUS_SYNC	(-1008)
/*
 * Its value: the call changes the cluster's tables (the catalog is sent
 * after commit if the transaction sends it at all), or needs the catalog
 * sent now as well (a product distributed, a node added).
 */
#define MESH_CITUS_TOPOLOGY			1
#define MESH_CITUS_TOPOLOGY_SEND	2

/* Citus is preloaded and created in this database. */
extern bool mesh_citus_active(void);

/* The Citus table whose shard (or placement) relid is, or InvalidOid. */
extern Oid	mesh_citus_shard_of(Oid relid);

/* Whether relid is a Citus table (distributed, reference, Citus local). */
extern bool mesh_citus_is_table(Oid relid);

/* A Citus node other than the coordinator (its catalog is a copy). */
extern bool mesh_citus_is_worker(void);

/* Whether this backend runs queries Citus sent from another node. */
extern bool mesh_citus_internal_backend(void);

/* Whether relid's name could name a shard (ends in _<digits>). */
extern bool mesh_citus_shard_like_name(Oid relid);

/*
 * A catalog table changed: the catalog is sent to the nodes with metadata
 * at commit, once per transaction.
 */
extern void mesh_citus_catalog_changed(Oid relid);

/*
 * Whether the Citus workers of this transaction govern with meshpg.purpose
 * = purpose (SET LOCAL, carried by citus.propagate_set_commands = 'local').
 */
extern bool mesh_citus_workers_have_purpose(const char *purpose);

/* Background worker: sends the catalog after a topology change commits. */
extern PGDLLEXPORT void mesh_citus_sync_main(Datum arg);

/* What the catalog asks of the cluster (registered from src/hooks.c). */
extern const MeshClusterOps mesh_citus_cluster_ops;

/* Hook steps (src/hooks.c) */
/* ExecutorEnd: send the catalog after Citus topology changes */
extern void mesh_citus_executor_end(QueryDesc *query, MeshHookStep next);
/* ProcessUtility: note a SET LOCAL meshpg.purpose that Citus carries */
extern void mesh_citus_utility(PlannedStmt *pstmt, const char *queryString,
						  bool readOnlyTree, ProcessUtilityContext context,
						  ParamListInfo params, QueryEnvironment *queryEnv,
						  DestReceiver *dest, QueryCompletion *qc,
						  MeshHookStep next);

#endif							/* MESHPG_CITUS_H */
