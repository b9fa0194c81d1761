\ir sample-base.sql
