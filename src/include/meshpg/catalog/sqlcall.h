/*
 * sqlcall.h
 *		What every SQL-callable function of meshpg needs, whatever its layer:
 *		its arguments, the caller's rights, the resolution of domain and
 *		product names, and the invalidation of the plans a catalog change
 *		affects (src/catalog/sqlcall.c).
 */
#ifndef MESHPG_SQLCALL_H
#define MESHPG_SQLCALL_H

#include "fmgr.h"
#include "utils/date.h"

#include "meshpg/catalog/catalog.h"

typedef struct MeshDomain
{
	int64		id;
	char	   *name;
	Oid			owner;
	Oid			nsp;
} MeshDomain;

typedef struct MeshProductRow
{
	int64		id;
	char	   *name;
	char	   *qualname;
	Oid			relid;
	MeshProductState state;
	char	   *state_name;
	char	   *version;
	char	   *description;
	bool		has_sunset;
	DateADT		sunset;
	bool		guard_enabled_rls;
	MeshDomain	domain;
} MeshProductRow;

/* arguments */
extern char *mesh_arg_text(FunctionCallInfo fcinfo, int argno, const char *argname);
extern char *mesh_arg_text_opt(FunctionCallInfo fcinfo, int argno);
extern bool mesh_arg_bool(FunctionCallInfo fcinfo, int argno, const char *argname);
extern Oid	mesh_arg_role(FunctionCallInfo fcinfo, int argno, const char *argname);
extern Datum mesh_arg_text_array(FunctionCallInfo fcinfo, int argno, const char *argname,
								 bool *isnull);
extern void mesh_check_version(const char *version);
extern char *mesh_relation_name(Oid relid);
extern struct ArrayType *mesh_int64_array(const int64 *values, int n, Oid elemtype);
extern List *mesh_text_array_list(Datum array);

/* rights, always of the caller's own identity (MeshSpiState.userid) */
extern bool mesh_is_admin(Oid role);
extern void mesh_require_admin(Oid caller, const char *action);
extern void mesh_require_admin_or_member(Oid caller, const MeshDomain *domain);
extern void mesh_require_domain_member(Oid caller, const MeshDomain *domain);

/* resolution; call inside mesh_spi_begin/end */
extern void mesh_resolve_domain(const char *name, bool for_update, MeshDomain *out);
extern char *mesh_nearest_names_hint(const char *sql, const char *input,
									 const char *otherwise);
extern void mesh_resolve_product(const char *ref, bool for_update, MeshProductRow *out);

/* queries for mesh_invalidate_products: the products whose plans to redo */
#define PRODUCT_BY_ID "SELECT relid::oid FROM meshpg.cat_product WHERE id = $1"
#define PRODUCTS_OF_DOMAIN "SELECT relid::oid FROM meshpg.cat_product WHERE domain_id = $1"
#define PRODUCTS_WITH_TAG \
	"SELECT DISTINCT p.relid::oid FROM meshpg.cat_product p " \
	"JOIN meshpg.cat_column_tag ct ON ct.product_id = p.id WHERE ct.tag_id = $1"
#define ALL_PRODUCTS "SELECT relid::oid FROM meshpg.cat_product"

extern void mesh_invalidate_products(const char *query, int64 id);
extern void mesh_refresh_search_product(int64 product_id);
extern void mesh_refresh_search_domain(int64 domain_id);

/* sqlcall.c: run what follows as the relation's owner, or back */
extern void mesh_as_relation_owner(Oid relid, bool on);

#endif							/* MESHPG_SQLCALL_H */
