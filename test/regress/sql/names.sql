--
-- names: ICU normalisation and spoof checks of domain and product names.
--
SELECT meshpg.normalize_name('payments');
SELECT meshpg.normalize_name('Payments');
SELECT meshpg.normalize_name('ＰＡＹＭＥＮＴＳ');       -- fullwidth: NFKC
SELECT meshpg.normalize_name('Straße');               -- case folding: ss
SELECT meshpg.normalize_name('Café_2024');
SELECT meshpg.normalize_name(E'Cafe\u0301');           -- combining accent composes
SELECT meshpg.normalize_name('платежи');               -- one script, not Latin: fine
SELECT meshpg.normalize_name('支払い');
SELECT meshpg.normalize_name('x' || repeat('a', 62));  -- 63 bytes: the limit

SELECT expect_error($$ SELECT meshpg.normalize_name(NULL) $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('x' || repeat('a', 63)) $$);
SELECT expect_error($$ SELECT meshpg.normalize_name(repeat('é', 32)) $$);   -- 64 bytes
SELECT expect_error($$ SELECT meshpg.normalize_name('pay ments') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('pay;ments') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('pay''ments') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('pay"ments') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name(E'pay\\ments') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('pay.ments') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('1payments') $$);
SELECT expect_error($$ SELECT meshpg.normalize_name('_payments') $$);
SELECT meshpg.normalize_name(E'pay\u200Dments');      -- NFKC_Casefold drops the invisible joiner
SELECT expect_error($$ SELECT meshpg.normalize_name('pаypal') $$);          -- Cyrillic а inside Latin
SELECT expect_error($$ SELECT meshpg.normalize_name('😀') $$);

-- Search folding: case, width and accents go; punctuation separates words.
SELECT meshpg.fold('Café Crème');
SELECT meshpg.fold('ＣＡＦＥ');
SELECT meshpg.fold('Tasker-churn, in "newly launched" cities!');
SELECT meshpg.fold('Ångström_units');
SELECT meshpg.fold('');
SELECT meshpg.fold(NULL);
