/*
 * registry.h
 *		The registry's functions other concerns call: tags, grants, the
 *		registration of relations, and the DDL guards' hook steps.  What
 *		every SQL-callable function needs (arguments, rights, resolution) is
 *		in meshpg/catalog/sqlcall.h.
 */
#ifndef MESHPG_REGISTRY_H
#define MESHPG_REGISTRY_H

#include "meshpg/catalog/sqlcall.h"
#include "meshpg/hooks.h"
#include "utils/jsonb.h"

/* policy.c: a tag's id by name (normalised into *name if not NULL); in SPI */
extern int64 mesh_resolve_tag(const char *input, char **name);
extern void mesh_tag_column_as(const MeshProductRow *product, const char *column,
							   const char *tag_in, const char *value, Oid userid);
struct MeshMaskInfo;
extern void mesh_check_mask_args(const struct MeshMaskInfo *info, Jsonb *args);
extern void mesh_revoke_all_grants(const MeshProductRow *product, const char *reason);
/* worker task: announces grants past their expiry (meshpg.grant.expired) */
extern bool mesh_grant_expiry_task(void);
/* access.c: the grant itself, rights already checked (grant_access, approvals) */
extern void mesh_grant_to(const MeshProductRow *product, Oid grantee, const char *purpose,
						  bool has_expiry, TimestampTz expires, const char *granted_by);
extern void mesh_unregister(const MeshProductRow *product, bool relation_exists);
extern void mesh_check_product_relation(Oid relid, const MeshDomain *domain);
extern int64 mesh_register_relation(const MeshDomain *domain, const char *name,
									const char *skeleton, Oid relid, const char *version,
									const char *description, Datum contacts,
									bool contacts_null);

/* requests.c: access requests; pit.c: the governance history's retention */
extern void mesh_define_request_settings(void);
extern bool mesh_access_requests_task(void);
extern void mesh_define_pit_settings(void);
extern bool mesh_governance_history_task(void);

/* ddl.c: hook steps (src/hooks.c) */
extern void mesh_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						 ProcessUtilityContext context, ParamListInfo params,
						 QueryEnvironment *queryEnv, DestReceiver *dest,
						 QueryCompletion *qc, MeshHookStep next);
extern void mesh_object_access(ObjectAccessType access, Oid classId, Oid objectId,
							   int subId, void *arg, MeshHookStep next);

#endif							/* MESHPG_REGISTRY_H */
