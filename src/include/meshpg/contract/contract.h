/*
 * contract.h
 *		Contracts (the interface recorded per product version), major
 *		versions side by side, and descriptors.
 */
#ifndef MESHPG_CONTRACT_H
#define MESHPG_CONTRACT_H

#include "nodes/parsenodes.h"

struct MeshProduct;

/* settings (descriptor.c) */
extern int	mesh_descriptor_max_size;
extern void mesh_define_contract_settings(void);

/* record.c: recording and checking the published interface */
extern bool mesh_contracts_installed(void);
extern void mesh_contract_record(int64 product_id, const char *version,
								 const char *change, const char *changes_json);
extern char *mesh_product_version(int64 product_id);
extern void mesh_contract_refuse(int64 product_id, const char *column,
								 const char *action, const char *detail);
extern bool mesh_type_widens(const char *from, const char *to);
extern int	mesh_contract_pin_search_path(void);
extern void mesh_contract_unpin_search_path(int nestlevel);
extern void mesh_contract_check_after(int64 product_id, const char *statement);

/* ddl pre-checks (record.c) */
extern void mesh_contract_check_view(ViewStmt *stmt, Oid relid, int64 product_id,
									 const char *queryString);

/* versions.c: reads of deprecated products */
extern void mesh_contract_deprecated_read(const struct MeshProduct *product, Oid userid);
extern char *mesh_contract_successor(const struct MeshProduct *product);

#endif							/* MESHPG_CONTRACT_H */
