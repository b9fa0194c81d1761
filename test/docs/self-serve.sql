\ir sample-mesh.sql
