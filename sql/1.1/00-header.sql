/*
 * meshpg 1.0 -> 1.1.  Built by the Makefile from the parts in sql/1.1, one per
 * concern, in name order: edit the parts, not meshpg--1.0--1.1.sql.
 */

\echo Use "ALTER EXTENSION meshpg UPDATE TO '1.1'" to load this file. \quit
