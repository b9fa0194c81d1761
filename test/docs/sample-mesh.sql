-- test/docs/sample-mesh.sql: the sample mesh of the consumer guide and the
-- reference (doc/guide-consumer.md, doc/reference.md): sample-base.sql,
-- plus the governance team's tags, policies and attributes: e-mail
-- addresses masked, each reader shown the rows of its region (analyst_eu:
-- EU; the group analysts: US) unless its purpose is churn analysis.
\ir sample-base.sql
-- the governance team's vocabulary, policies and attributes
SET ROLE gov;
SELECT meshpg.create_tag('pii.email', 'An e-mail address');
SELECT meshpg.create_tag('geo.region', 'Where a customer lives', allowed_values => '{region,country}');
SELECT meshpg.create_masking_policy('email_mask', 'email', tag => 'pii.email');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
       tag => 'geo.region', exempt_purposes => '{churn analysis}');
SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU}');
SELECT meshpg.set_attribute('analysts', 'region', '{US}');
RESET ROLE;

SET ROLE payments_team;
SELECT meshpg.tag_column('payments.transactions', 'customer_email', 'pii.email');
SELECT meshpg.tag_column('payments.transactions', 'region', 'geo.region', value => 'region');
SELECT meshpg.tag_column('payments.payouts', 'tasker_email', 'pii.email');
RESET ROLE;
