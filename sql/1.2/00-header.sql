/*
 * meshpg 1.1 -> 1.2.  Built by the Makefile from the parts in sql/1.2, one per
 * concern, in name order: edit the parts, not meshpg--1.1--1.2.sql.
 */

\echo Use "ALTER EXTENSION meshpg UPDATE TO '1.2'" to load this file. \quit
