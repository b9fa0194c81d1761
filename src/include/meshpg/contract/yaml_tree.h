/*
 * yaml_tree.h
 *		A parsed descriptor document (yaml.c), before validation.
 */
#ifndef MESHPG_YAML_TREE_H
#define MESHPG_YAML_TREE_H

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

typedef enum YNodeKind
{
	YSCALAR,
	YSEQ,
	YMAP
} YNodeKind;

typedef struct YNode
{
	YNodeKind	kind;
	int			line;
	char	   *value;			/* YSCALAR */
	bool		plain;			/* YSCALAR: unquoted, so null/true/1 are typed */
	List	   *keys;			/* YMAP: of YNode scalars */
	List	   *items;			/* YMAP values, YSEQ items */
} YNode;

extern List *mesh_yaml_parse(const char *text, size_t len);
extern void mesh_yaml_scalar(StringInfo out, const char *s);

#endif							/* MESHPG_YAML_TREE_H */
