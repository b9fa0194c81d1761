-- doc/enforcement.md: the vault the masks example reads, a consumer
-- `reader` in region EU.
CREATE ROLE vault_team NOLOGIN;
CREATE ROLE reader LOGIN;
SELECT meshpg.create_domain('vault', 'vault_team');
SELECT meshpg.create_tag('pii.ssn');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('pii.phone');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_masking_policy('ssn_hash', 'hash', tag => 'pii.ssn');
SELECT meshpg.create_masking_policy('email_mask', 'email', tag => 'pii.email');
SELECT meshpg.create_masking_policy('phone_redact', 'redact', tag => 'pii.phone');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))', tag => 'geo.region');
SELECT meshpg.set_attribute('reader', 'region', '{EU}');
SET ROLE vault_team;
CREATE TABLE vault.people (id int PRIMARY KEY, name text, ssn text, email text, region text, phone text);
INSERT INTO vault.people VALUES (1, 'Ann', '123-45-6789', 'ann@example.com', 'EU', '+33 1 23 45 67 89');
SELECT meshpg.register_product('vault', 'people', 'vault.people', description => 'People');
SELECT meshpg.tag_column('vault.people', 'ssn', 'pii.ssn');
SELECT meshpg.tag_column('vault.people', 'email', 'pii.email');
SELECT meshpg.tag_column('vault.people', 'phone', 'pii.phone');
SELECT meshpg.tag_column('vault.people', 'region', 'geo.region');
SELECT meshpg.publish('vault.people', '1.0.0');
SELECT meshpg.grant_access('vault.people', 'reader');
RESET ROLE;
