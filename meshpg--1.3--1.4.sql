/*
 * meshpg 1.3 -> 1.4.  Built by the Makefile from the parts in sql/1.4, one per
 * concern, in name order: edit the parts, not meshpg--1.3--1.4.sql.
 */

\echo Use "ALTER EXTENSION meshpg UPDATE TO '1.4'" to load this file. \quit
