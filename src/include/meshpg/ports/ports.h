/*
 * ports.h
 *		Output ports: one consumer's governed change stream of one product
 *		(src/ports/, doc/ports.md).  The rules are compiled for the consumer
 *		in port.c and stored in its catalog row; plugin.c, meshpg's logical
 *		decoding output plugin, applies them to each decoded change.
 */
#ifndef MESHPG_PORTS_H
#define MESHPG_PORTS_H

#include "nodes/pg_list.h"

/* the slot plugin name, and the prefix of the slots meshpg owns */
#define MESH_PORT_PLUGIN		"meshpg"
#define MESH_PORT_SLOT_PREFIX	"meshpg_port_"

/* meshpg.port_max_lag, in MB (-1: no limit) */
extern int	mesh_port_max_lag;

extern void mesh_ports_init(void);

/* the worker's task (worker/worker.c: mesh_worker_tasks[]) */
extern bool mesh_ports_watch_task(void);

/*
 * The compiled rules, as stored in cat_port.rules (nodeToString of a List
 * of these four, in this order):
 *   types:   OidList, the type of each column at compile time (InvalidOid:
 *            dropped then);
 *   typmods: IntList, their typmods;
 *   masks:   List of Expr or NULL per column (Vars at varno 1);
 *   quals:   List of Expr, the row filters to AND;
 *   roles:   OidList, the roles whose membership the rules rest on
 *            (InvalidOid: superuser), see port.c;
 *   held:    IntList, whether the consumer had their privileges.
 */
#define MESH_PORT_RULES_TYPES	0
#define MESH_PORT_RULES_TYPMODS	1
#define MESH_PORT_RULES_MASKS	2
#define MESH_PORT_RULES_QUALS	3
#define MESH_PORT_RULES_ROLES	4
#define MESH_PORT_RULES_HELD	5

/* where rules were compiled: a restored copy must recompile (port.c) */
extern char *mesh_port_compiled_here(void);

#endif							/* MESHPG_PORTS_H */
