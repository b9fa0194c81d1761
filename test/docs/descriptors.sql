-- doc/descriptors.md: domain shop with its table shop.orders, the roles
-- and tags the example descriptor names.
CREATE ROLE shop_team NOLOGIN;
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE shop_auditor NOLOGIN;
SELECT meshpg.create_domain('shop', 'shop_team');
SELECT meshpg.create_tag('shop.pii');
SELECT meshpg.create_tag('shop.region', allowed_values => '{EU,US}');
SET ROLE shop_team;
CREATE TABLE shop.orders (id bigint NOT NULL, email text, region text);
RESET ROLE;
