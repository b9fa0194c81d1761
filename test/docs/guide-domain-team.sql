-- doc/guide-domain-team.md: "the governance team has created a domain for
-- you": domain payments owned by payments_team, a consumer analyst_eu.
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE analyst_eu LOGIN;
SELECT meshpg.create_domain('payments', 'payments_team', description => 'Charges and payouts');
CREATE ROLE analysts NOLOGIN;
-- the governance team's vocabulary and policies
SELECT meshpg.create_tag('pii.email', 'An e-mail address');
SELECT meshpg.create_tag('geo.region', 'Where a customer lives', allowed_values => '{region,country}');
SELECT meshpg.create_masking_policy('mask_email', 'email', tag => 'pii.email');
