/*
 * meshpg 1.2 -> 1.3.  Built by the Makefile from the parts in sql/1.3, one per
 * concern, in name order: edit the parts, not meshpg--1.2--1.3.sql.
 */

\echo Use "ALTER EXTENSION meshpg UPDATE TO '1.3'" to load this file. \quit
