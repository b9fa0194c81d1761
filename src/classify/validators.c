/*
 * validators.c
 *		The PII validators: one kinds table (mesh_validators[]), each row a
 *		value check with its checksum where the kind has one, the forms of
 *		value it applies to and the column-name dictionary that hints at it.
 *
 * Values arrive prepared by mesh_classify_prepare: NFKC-normalised through
 * ICU when not ASCII, so that full-width digits (１２３) and compatibility
 * letters check like their ASCII forms.  Column names are folded with
 * mesh_fold_text (NFKC, case folded, accents removed, separators turned to
 * spaces), so "Prénom", "PRENOM" and "prenom" match the same hint.
 *
 * Adding a validator: a check function and a row below; the order of the
 * rows is the order of preference when two validators match a column
 * equally (the ones with a checksum first: they are the least likely to
 * match by chance).
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "meshpg/classify/classify.h"
#include "meshpg/text/icu.h"
#include "meshpg/text/text.h"

/* Longer values are none of the kinds (an e-mail address is at most 254). */
#define MAX_VALUE_LEN 256

char *
mesh_classify_prepare(const char *value, int *len)
{
	int			n = strlen(value);
	bool		ascii = true;

	if (n > MAX_VALUE_LEN * 4)
		return NULL;
	for (int i = 0; i < n; i++)
		if ((unsigned char) value[i] >= 0x80)
		{
			ascii = false;
			break;
		}
	if (!ascii)
	{
		int32_t		ulen;
		int32_t		nlen;
		UChar	   *u = mesh_utf8_to_uchar(value, n, &ulen);
		UChar	   *norm = mesh_normalize(u, ulen, &nlen, true);

		value = mesh_uchar_to_utf8(norm, nlen);
		n = strlen(value);
	}
	if (n > MAX_VALUE_LEN)
		return NULL;
	*len = n;
	return (char *) value;
}

/* Copies the characters of s that are not in skip, upper-cased; NULL if more than max. */
static int
compact(const char *s, int len, const char *skip, char *out, int max)
{
	int			n = 0;

	for (int i = 0; i < len; i++)
	{
		if (strchr(skip, s[i]) != NULL)
			continue;
		if (n >= max)
			return -1;
		out[n++] = pg_ascii_toupper((unsigned char) s[i]);
	}
	out[n] = '\0';
	return n;
}

static bool
all_digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* a number of nothing but one digit (0000000000) is a placeholder */
static bool
one_digit_repeated(const char *s, int n)
{
	for (int i = 1; i < n; i++)
		if (s[i] != s[0])
			return false;
	return true;
}

/* ---- e-mail: local@domain.tld ------------------------------------------ */
static bool
check_email(const char *s, int len)
{
	const char *at = memchr(s, '@', len);
	int			local;
	int			dots = 0;
	int			label = 0;
	int			tld_alpha = 0;

	if (at == NULL)
		return false;
	local = at - s;
	if (local < 1 || local > 64 || len - local - 1 < 3 || memchr(at + 1, '@', len - local - 1))
		return false;
	for (int i = 0; i < local; i++)
	{
		unsigned char c = s[i];

		if (!(isalnum(c) || c >= 0x80 || strchr(".!#$%&'*+/=?^_`{|}~-", c)))
			return false;
	}
	if (s[0] == '.' || s[local - 1] == '.')
		return false;
	for (const char *p = at + 1; p < s + len; p++)
	{
		unsigned char c = *p;

		if (c == '.')
		{
			if (label == 0)
				return false;
			dots++;
			label = 0;
			tld_alpha = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c >= 0x80))
			return false;
		label++;
		if (isalpha(c) || c >= 0x80)
			tld_alpha++;
	}
	return dots > 0 && label >= 2 && tld_alpha == label;
}

/* ---- payment card numbers: 13 to 19 digits, Luhn ------------------------ */
static bool
luhn(const char *d, int n)
{
	int			sum = 0;

	for (int i = 0; i < n; i++)
	{
		int			v = d[n - 1 - i] - '0';

		if (i % 2 == 1)
		{
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

static bool
check_card(const char *s, int len)
{
	char		d[32];
	int			n = compact(s, len, " -", d, 19);

	/* issuer ranges start with 2 to 6 (Mastercard, Amex, Visa, Discover...) */
	return n >= 13 && all_digits(d, n) && d[0] >= '2' && d[0] <= '6' &&
		!one_digit_repeated(d, n) && luhn(d, n);
}

/* ---- IBAN: country, check digits, BBAN; mod 97 = 1 ---------------------- */
static bool
check_iban(const char *s, int len)
{
	char		d[40];
	int			n = compact(s, len, " -", d, 34);
	int			rem = 0;

	if (n < 15 || !isalpha((unsigned char) d[0]) || !isalpha((unsigned char) d[1]) ||
		!isdigit((unsigned char) d[2]) || !isdigit((unsigned char) d[3]))
		return false;
	/* the first four characters move to the end; letters count A = 10 ... */
	for (int k = 0; k < n; k++)
	{
		char		c = d[(k + 4) % n];

		if (isdigit((unsigned char) c))
			rem = (rem * 10 + (c - '0')) % 97;
		else if (c >= 'A' && c <= 'Z')
			rem = (rem * 100 + (c - 'A' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

/* ---- US SSN: AAA-GG-SSSS (structure; the number has no checksum) ------- */
static bool
check_us_ssn(const char *s, int len)
{
	int			area,
				group,
				serial;

	if (len != 11 || s[3] != '-' || s[6] != '-' ||
		!all_digits(s, 3) || !all_digits(s + 4, 2) || !all_digits(s + 7, 4))
		return false;
	area = atoi(pnstrdup(s, 3));
	group = atoi(pnstrdup(s + 4, 2));
	serial = atoi(pnstrdup(s + 7, 4));
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* ---- UK National Insurance number: AB123456C (structure) ---------------- */
static bool
check_uk_nino(const char *s, int len)
{
	char		d[16];
	int			n = compact(s, len, " ", d, 9);

	if (n != 9 || !isalpha((unsigned char) d[0]) || !isalpha((unsigned char) d[1]) ||
		!all_digits(d + 2, 6) || strchr("ABCD", d[8]) == NULL)
		return false;
	if (strchr("DFIQUV", d[0]) || strchr("DFIOQUV", d[1]))
		return false;
	if (strncmp(d, "BG", 2) == 0 || strncmp(d, "GB", 2) == 0 || strncmp(d, "NK", 2) == 0 ||
		strncmp(d, "KN", 2) == 0 || strncmp(d, "TN", 2) == 0 || strncmp(d, "NT", 2) == 0 ||
		strncmp(d, "ZZ", 2) == 0)
		return false;
	return true;
}

/*
 * ---- French NIR (social security number): 13 digits and a key,
 * key = 97 - (number mod 97); Corsica's 2A and 2B count as 19 and 18.
 */
static bool
check_fr_nir(const char *s, int len)
{
	char		d[24];
	int			n = compact(s, len, " .-", d, 15);
	int64		num = 0;
	int			key;

	if (n != 15 || strchr("12378", d[0]) == NULL)
		return false;
	if (d[5] == '2' && (d[6] == 'A' || d[6] == 'B'))
	{
		if (!all_digits(d, 5) || !all_digits(d + 7, 8))
			return false;
		for (int i = 0; i < 13; i++)
		{
			int			v;

			if (i == 5)
				v = 1;
			else if (i == 6)
				v = d[6] == 'A' ? 9 : 8;
			else
				v = d[i] - '0';
			num = num * 10 + v;
		}
	}
	else
	{
		if (!all_digits(d, 15))
			return false;
		for (int i = 0; i < 13; i++)
			num = num * 10 + (d[i] - '0');
	}
	/* month 01-12, or the codes used when it is unknown (20-42, 50-99) */
	{
		int			month = (d[3] - '0') * 10 + (d[4] - '0');

		if (month == 0 || (month > 12 && month < 20) || (month > 42 && month < 50))
			return false;
	}
	key = (d[13] - '0') * 10 + (d[14] - '0');
	return key >= 1 && key <= 97 && key == 97 - (int) (num % 97);
}

/* ---- Spanish DNI (8 digits and a letter) and NIE (X/Y/Z, 7 digits, letter) */
static bool
check_es_dni(const char *s, int len)
{
	static const char letters[] = "TRWAGMYFPDXBNJZSQVHLCKE";
	char		d[16];
	int			n = compact(s, len, " -", d, 9);
	long		num;

	if (n != 9 || !isalpha((unsigned char) d[8]))
		return false;
	if (d[0] == 'X' || d[0] == 'Y' || d[0] == 'Z')
	{
		if (!all_digits(d + 1, 7))
			return false;
		d[0] = '0' + (d[0] - 'X');
	}
	else if (!all_digits(d, 8))
		return false;
	num = strtol(pnstrdup(d, 8), NULL, 10);
	return letters[num % 23] == d[8];
}

/*
 * ---- Italian codice fiscale: 16 characters, the last a check letter from
 * the values of the characters in odd and even positions.
 */
static bool
check_it_cf(const char *s, int len)
{
	static const int odd[36] = {
		/* 0-9 */ 1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
		/* A-Z */ 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16,
		10, 22, 25, 24, 23
	};
	static const char *const pattern = "LLLLLLNNLNNLNNNL";	/* L letter, N digit (or its omocodia letter) */
	char		d[24];
	int			n = compact(s, len, " ", d, 16);
	int			sum = 0;

	if (n != 16)
		return false;
	for (int i = 0; i < 16; i++)
	{
		char		c = d[i];

		if (pattern[i] == 'L' && !(c >= 'A' && c <= 'Z'))
			return false;
		if (pattern[i] == 'N' && !(isdigit((unsigned char) c) || strchr("LMNPQRSTUV", c)))
			return false;
	}
	for (int i = 0; i < 15; i++)
	{
		char		c = d[i];
		int			idx = isdigit((unsigned char) c) ? c - '0' : c - 'A' + 10;

		/* positions count from 1: the first is odd */
		if (i % 2 == 0)
			sum += odd[idx];
		else
			sum += isdigit((unsigned char) c) ? c - '0' : c - 'A';
	}
	return d[15] == 'A' + sum % 26;
}

/* ---- IP addresses, v4 and v6 ------------------------------------------- */
static bool
check_ip(const char *s, int len)
{
	char		buf[64];
	unsigned char addr[16];
	const char *slash;

	if (len >= (int) sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* inet and cidr render a prefix length */
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/*
 * ---- phone numbers, E.164-ish: 8 to 15 digits, with + or 00 in front or
 * written with separators (a bare run of digits is an identifier, unless
 * the column's name says phone: see needs_hint in phone_by_name).
 */
static bool
phone_digits(const char *s, int len, bool *international, bool *formatted)
{
	int			digits = 0;
	int			i = 0;

	*international = false;
	*formatted = false;
	if (len > 0 && s[0] == '+')
	{
		*international = true;
		i = 1;
	}
	else if (len > 2 && s[0] == '0' && s[1] == '0')
		*international = true;
	for (; i < len; i++)
	{
		if (isdigit((unsigned char) s[i]))
			digits++;
		else if (strchr(" -.()/", s[i]))
			*formatted = true;
		else
			return false;
	}
	return digits >= 8 && digits <= 15;
}

static bool
check_phone(const char *s, int len)
{
	bool		intl,
				fmt;

	return phone_digits(s, len, &intl, &fmt) && (intl || fmt);
}

static bool
check_phone_by_name(const char *s, int len)
{
	bool		intl,
				fmt;

	return phone_digits(s, len, &intl, &fmt);
}

/*
 * ---- dates of birth: a date 5 to 120 years back (with a column-name
 * hint: a plausible birth date is any date of the last century).
 * Dates arrive as YYYY-MM-DD (date columns) or in text as YYYY-MM-DD,
 * YYYY/MM/DD, DD/MM/YYYY or DD.MM.YYYY.
 */
static bool
check_birth_date(const char *s, int len)
{
	int			y,
				m,
				d;
	int			this_year;
	struct pg_tm tm;
	fsec_t		fsec;

	if (len < 10)
		return false;
	if (isdigit((unsigned char) s[0]) && isdigit((unsigned char) s[3]) &&
		(s[4] == '-' || s[4] == '/') && s[7] == s[4])
	{
		if (sscanf(s, "%4d%*c%2d%*c%2d", &y, &m, &d) != 3)
			return false;
	}
	else if ((s[2] == '/' || s[2] == '.') && s[5] == s[2])
	{
		if (sscanf(s, "%2d%*c%2d%*c%4d", &d, &m, &y) != 3)
			return false;
	}
	else
		return false;
	if (len > 10 && s[10] != ' ' && s[10] != 'T')
		return false;
	if (timestamp2tm(GetCurrentTransactionStartTimestamp(), NULL, &tm, &fsec, NULL, NULL) != 0)
		return false;
	this_year = tm.tm_year;
	return m >= 1 && m <= 12 && d >= 1 && d <= 31 && y >= this_year - 120 && y <= this_year - 5;
}

/* ---- personal names (with a column-name hint): letters, 1 to 5 words ---- */
static bool
check_person_name(const char *s, int len)
{
	int			words = 0;
	bool		in_word = false;
	int			i = 0;

	if (len == 0 || len > 80)
		return false;
	while (i < len)
	{
		UChar32		c;

		U8_NEXT(s, i, len, c);
		if (c < 0)
			return false;
		if (u_isalpha(c) || u_charType(c) == U_NON_SPACING_MARK ||
			u_charType(c) == U_COMBINING_SPACING_MARK)
		{
			if (!in_word)
				words++;
			in_word = true;
		}
		else if (c == ' ' || c == '-' || c == '\'' || c == 0x2019 || c == '.')
			in_word = c != ' ' && in_word;
		else
			return false;
	}
	return words >= 1 && words <= 5;
}

/*
 * Column-name dictionaries, folded (lower case, no accents, separators as
 * one space).  An entry matches a whole word sequence of the folded name;
 * "=" in front: only the whole name; "~" in front: anywhere (scripts
 * written without spaces).
 */
static const char *const name_hints[] = {
	"first name", "firstname", "given name", "givenname", "forename", "last name", "lastname",
	"surname", "family name", "familyname", "full name", "fullname", "maiden name",
	"middle name", "=name", "=customer name", "=person name",
	"prenom", "=nom", "nom de famille", "nom complet",	/* French */
	"vorname", "nachname", "familienname", "=name",	/* German */
	"nombre", "apellido", "apellidos", "nombre completo",	/* Spanish */
	"=nome", "cognome", "sobrenome", "nome completo",	/* Italian, Portuguese */
	"voornaam", "achternaam", "imie", "nazwisko", "fornavn", "efternavn", "etternavn",
	"fornamn", "efternamn", "etunimi", "sukunimi",
	"имя", "фамилия", "отчество", "imya", "familiya", "ονομα", "επωνυμο", "שם", "اسم",
	"~名", "~姓", "~氏名", "~名前", "~姓名", "~이름", "~성명", "~ชื่อ",
	NULL
};

static const char *const birth_hints[] = {
	"birth", "birthdate", "birthday", "dob", "date of birth", "dateofbirth", "born",
	"geburtsdatum", "geburtstag", "geboren", "naissance", "date de naissance", "nacimiento",
	"fecha de nacimiento", "nascita", "data di nascita", "data de nascimento", "nascimento",
	"geboortedatum", "data urodzenia", "fodelsedato", "fodelsedag", "syntymaaika",
	"дата рождения", "рождения", "~生年月日", "~出生", "~生日", "~誕生日", "~생년월일", "~생일",
	NULL
};

static const char *const phone_hints[] = {
	"phone", "telephone", "=tel", "tel no", "mobile", "cell", "cellphone", "msisdn",
	"telefon", "telefono", "telefone", "telefoon", "=handy", "=portable", "=movil",
	"=cellulare", "telefonnummer", "numero de telephone", "телефон", "~电话", "~電話",
	"~手机", "~携帯", "~전화", "~휴대폰",
	NULL
};

/*
 * The kinds table.  Checksums first (least likely by chance), then the
 * structural kinds, then those that need the column's name.
 */
const MeshValidator mesh_validators[] = {
	{"payment_card", "pii.payment_card", check_card, (1 << MESH_FORM_TEXT) | (1 << MESH_FORM_NUMBER), false, NULL},
	{"iban", "pii.iban", check_iban, 1 << MESH_FORM_TEXT, false, NULL},
	{"fr_nir", "pii.national_id", check_fr_nir, (1 << MESH_FORM_TEXT) | (1 << MESH_FORM_NUMBER), false, NULL},
	{"es_dni", "pii.national_id", check_es_dni, 1 << MESH_FORM_TEXT, false, NULL},
	{"it_codice_fiscale", "pii.national_id", check_it_cf, 1 << MESH_FORM_TEXT, false, NULL},
	{"us_ssn", "pii.national_id", check_us_ssn, 1 << MESH_FORM_TEXT, false, NULL},
	{"uk_nino", "pii.national_id", check_uk_nino, 1 << MESH_FORM_TEXT, false, NULL},
	{"email", "pii.email", check_email, 1 << MESH_FORM_TEXT, false, NULL},
	{"ip_address", "pii.ip_address", check_ip, (1 << MESH_FORM_TEXT) | (1 << MESH_FORM_INET), false, NULL},
	{"phone", "pii.phone", check_phone, 1 << MESH_FORM_TEXT, false, NULL},
	{"phone_by_name", "pii.phone", check_phone_by_name, (1 << MESH_FORM_TEXT) | (1 << MESH_FORM_NUMBER), true, phone_hints},
	{"birth_date", "pii.birth_date", check_birth_date, (1 << MESH_FORM_TEXT) | (1 << MESH_FORM_DATE), true, birth_hints},
	{"person_name", "pii.name", check_person_name, 1 << MESH_FORM_TEXT, true, name_hints},
};
const int	mesh_nvalidators = lengthof(mesh_validators);

const MeshValidator *
mesh_validator(const char *name)
{
	for (int i = 0; i < mesh_nvalidators; i++)
		if (strcmp(mesh_validators[i].name, name) == 0)
			return &mesh_validators[i];
	return NULL;
}

/* Whether words (folded) occur in name (folded) as whole words. */
static bool
has_words(const char *name, const char *words)
{
	int			wl = strlen(words);
	const char *p = name;

	while ((p = strstr(p, words)) != NULL)
	{
		if ((p == name || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
			return true;
		p++;
	}
	return false;
}

bool
mesh_validator_hinted(const MeshValidator *v, const char *folded)
{
	if (v->hints == NULL)
		return false;
	for (const char *const *h = v->hints; *h; h++)
	{
		const char *e = *h;

		if (e[0] == '=')
		{
			if (strcmp(folded, e + 1) == 0)
				return true;
		}
		else if (e[0] == '~')
		{
			if (strstr(folded, e + 1) != NULL)
				return true;
		}
		else if (has_words(folded, e))
			return true;
	}
	return false;
}
