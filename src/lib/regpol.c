/* regpol.c - Registry.pol (PReg version 1) reader and writer, and the serialized certificate
 * element of GPO-deployed certificates.
 *
 * File layout (all integers little-endian, every delimiter a UTF-16LE character):
 *     offset 0  4 bytes  signature "PReg" (50 52 65 67)
 *     offset 4  u32      version, 1
 *     offset 8  entries, back to back, each:
 *         '[' (5B 00)  key UTF-16LE + NUL (00 00)  ';' (3B 00)
 *         value UTF-16LE + NUL  ';'  u32 type  ';'  u32 size  ';'  size bytes of data  ']' (5D 00)
 * The reader checks every byte against this, names the offset of the first one that does not
 * fit, and returns nothing on failure; the writer emits the same layout, nothing else. */
#include "regpol.h"

#include "atomicfile.h"
#include "byteorder.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PREG_HEADER_LEN 8
#define PREG_VERSION	1u
#define CH_OPEN		0x5Bu /* '[' */
#define CH_SEP		0x3Bu /* ';' */
#define CH_CLOSE	0x5Du /* ']' */
#define CH_BACKSLASH	0x5Cu
#define SHA1_LEN	20
#define BLOB_PROP_HDR	12 /* u32 id, u32 reserved (1), u32 length */

/* ---- UTF-8 <-> UTF-16 ---- */

/* Decodes one UTF-8 sequence at s[*i]; returns the code point or -1 when it is invalid. */
static int32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp, min;
	size_t n, k;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if ((c & 0xE0) == 0xC0) {
		n = 1, cp = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 2, cp = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (len - *i <= n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[*i + k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*i += n + 1;
	return (int32_t)cp;
}

uint8_t *regpol_utf16_encode(const char *utf8, size_t *units, struct pp_error *err)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t len, i = 0, n = 0;
	uint8_t *out;
	int32_t cp;

	if (utf8 == NULL || units == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no string given to convert to UTF-16");
		return NULL;
	}
	len = strlen(utf8);
	/* At most one UTF-16 unit per UTF-8 byte; +1 so that an empty string still allocates. */
	out = malloc(len * 2 + 2);
	if (out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory converting a string to UTF-16");
		return NULL;
	}
	while (i < len) {
		size_t at = i;

		cp = utf8_next(s, len, &i);
		if (cp < 0) {
			/* Quote only the valid part before the bad byte (at most 64 bytes of it,
			 * cut at a character boundary), so that the message itself stays UTF-8. */
			size_t shown = at < 64 ? at : 64;

			while (shown > 0 && shown < at && (s[shown] & 0xC0) == 0x80)
				shown--;
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "'%.*s%s' is followed by invalid UTF-8 (byte 0x%02X at offset %zu)",
			    (int)shown, utf8, shown < at ? "..." : "", s[at], at);
			free(out);
			return NULL;
		}
		if (cp >= 0x10000) {
			uint32_t v = (uint32_t)cp - 0x10000;

			le16_put(out + 2 * n++, (uint16_t)(0xD800 | (v >> 10)));
			le16_put(out + 2 * n++, (uint16_t)(0xDC00 | (v & 0x3FF)));
		} else {
			le16_put(out + 2 * n++, (uint16_t)cp);
		}
	}
	*units = n;
	return out;
}

/* Decodes units UTF-16LE units into a malloc'd UTF-8 string. On an unpaired surrogate returns
 * NULL with *bad = its index (and *oom false); when out of memory, *oom is true. */
static char *utf16_decode(const uint8_t *p, size_t units, size_t *bad, bool *oom)
{
	char *out, *o;
	size_t i;

	*oom = false;
	/* A unit gives at most 3 bytes; a surrogate pair (2 units) gives 4. */
	out = malloc(units * 3 + 1);
	if (out == NULL) {
		*oom = true;
		return NULL;
	}
	o = out;
	for (i = 0; i < units; i++) {
		uint32_t cp = le16_get(p + 2 * i);

		if (cp >= 0xD800 && cp <= 0xDBFF) {
			uint32_t lo = i + 1 < units ? le16_get(p + 2 * (i + 1)) : 0;

			if (lo < 0xDC00 || lo > 0xDFFF) {
				*bad = i;
				free(out);
				return NULL;
			}
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			i++;
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			*bad = i;
			free(out);
			return NULL;
		}
		if (cp < 0x80) {
			*o++ = (char)cp;
		} else if (cp < 0x800) {
			*o++ = (char)(0xC0 | (cp >> 6));
			*o++ = (char)(0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			*o++ = (char)(0xE0 | (cp >> 12));
			*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
			*o++ = (char)(0x80 | (cp & 0x3F));
		} else {
			*o++ = (char)(0xF0 | (cp >> 18));
			*o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
			*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
			*o++ = (char)(0x80 | (cp & 0x3F));
		}
	}
	*o = '\0';
	return out;
}

char *regpol_utf16_decode(const uint8_t *utf16le, size_t units, struct pp_error *err)
{
	size_t bad = 0;
	bool oom;
	char *s;

	if (utf16le == NULL && units > 0) {
		pp_error_set(err, HR_E_INVALIDARG, "no UTF-16 string given to convert");
		return NULL;
	}
	s = utf16_decode(utf16le, units, &bad, &oom);
	if (s == NULL && oom)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory converting UTF-16 to UTF-8");
	else if (s == NULL)
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "not valid UTF-16: unpaired surrogate 0x%04X at unit %zu",
			     (unsigned)le16_get(utf16le + 2 * bad), bad);
	return s;
}

/* ---- the model ---- */

struct regpol *regpol_new(struct pp_error *err)
{
	struct regpol *pol = calloc(1, sizeof(*pol));

	if (pol == NULL)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory creating a policy file");
	return pol;
}

void regpol_free(struct regpol *pol)
{
	size_t i;

	if (pol == NULL)
		return;
	for (i = 0; i < pol->count; i++) {
		free(pol->entries[i].key);
		free(pol->entries[i].value);
		free(pol->entries[i].data);
	}
	free(pol->entries);
	free(pol);
}

static bool is_string_type(uint32_t type)
{
	return type == REGPOL_REG_SZ || type == REGPOL_REG_EXPAND_SZ || type == REGPOL_REG_LINK ||
	       type == REGPOL_REG_MULTI_SZ;
}

/* The longest component of a key path of units UTF-16 units, in units. */
static size_t longest_part(const uint8_t *p, size_t units)
{
	size_t i, run = 0, max = 0;

	for (i = 0; i < units; i++) {
		if (le16_get(p + 2 * i) == CH_BACKSLASH) {
			run = 0;
			continue;
		}
		if (++run > max)
			max = run;
	}
	return max;
}

/* Checks the bounds of a key path or value name (is_key) given as UTF-16; NULL when they hold,
 * else a static description of the one that does not. */
static const char *name_bound_problem(const uint8_t *p, size_t units, bool is_key)
{
	if (is_key && units == 0)
		return "the key path is empty";
	if (is_key && units > REGPOL_KEY_MAX)
		return "the key path is longer than 32767 UTF-16 units";
	if (is_key && longest_part(p, units) > REGPOL_KEY_PART_MAX)
		return "a component of the key path is longer than 255 UTF-16 units";
	if (!is_key && units > REGPOL_VALUE_MAX)
		return "the value name is longer than 16383 UTF-16 units";
	return NULL;
}

/* Appends an entry taking ownership of key, value and data (freed on failure too). */
static int append_owned(struct regpol *pol, char *key, char *value, uint32_t type, uint8_t *data,
			size_t size, struct pp_error *err)
{
	struct regpol_entry *e;

	if (pol->count == pol->alloc) {
		size_t n = pol->alloc ? pol->alloc * 2 : 16;

		e = reallocarray(pol->entries, n, sizeof(*e));
		if (e == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory adding a policy entry");
			free(key);
			free(value);
			free(data);
			return -1;
		}
		pol->entries = e;
		pol->alloc = n;
	}
	e = &pol->entries[pol->count++];
	e->key = key;
	e->value = value;
	e->type = type;
	e->data = data;
	e->size = size;
	return 0;
}

/* Checks a name given in UTF-8 for regpol_add. */
static int check_name(const char *name, bool is_key, struct pp_error *err)
{
	const char *problem;
	uint8_t *u;
	size_t units;

	u = regpol_utf16_encode(name, &units, err);
	if (u == NULL)
		return -1;
	problem = name_bound_problem(u, units, is_key);
	free(u);
	if (problem != NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "cannot add a policy entry: %s", problem);
		return -1;
	}
	return 0;
}

int regpol_add(struct regpol *pol, const char *key, const char *value, uint32_t type,
	       const uint8_t *data, size_t size, struct pp_error *err)
{
	char *k = NULL, *v = NULL;
	uint8_t *d = NULL;

	if (pol == NULL || key == NULL || value == NULL || (data == NULL && size > 0)) {
		pp_error_set(err, HR_E_INVALIDARG, "regpol_add needs a policy, a key and a value");
		return -1;
	}
	if (check_name(key, true, err) != 0 || check_name(value, false, err) != 0)
		return -1;
	if (type > REGPOL_REG_QWORD) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "cannot add '%s\\%s': unknown registry type %u (0 to 11)", key, value,
			     (unsigned)type);
		return -1;
	}
	if (is_string_type(type) && size % 2 != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "cannot add '%s\\%s': string data of type %u must be UTF-16 (an even "
			     "size), got %zu bytes",
			     key, value, (unsigned)type, size);
		return -1;
	}
	if (size > REGPOL_FILE_MAX) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "cannot add '%s\\%s': %zu bytes of data is over the %u a Registry.pol "
			     "may hold",
			     key, value, size, REGPOL_FILE_MAX);
		return -1;
	}
	k = strdup(key);
	v = strdup(value);
	if (size > 0) {
		d = malloc(size);
		if (d != NULL)
			memcpy(d, data, size);
	}
	if (k == NULL || v == NULL || (size > 0 && d == NULL)) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory adding a policy entry");
		free(k);
		free(v);
		free(d);
		return -1;
	}
	return append_owned(pol, k, v, type, d, size, err);
}

const struct regpol_entry *regpol_find(const struct regpol *pol, const char *key, const char *value)
{
	size_t i;

	if (pol == NULL || key == NULL || value == NULL)
		return NULL;
	for (i = 0; i < pol->count; i++) {
		if (strcasecmp(pol->entries[i].key, key) == 0 &&
		    strcasecmp(pol->entries[i].value, value) == 0)
			return &pol->entries[i];
	}
	return NULL;
}

/* ---- reader ---- */

struct preg_reader {
	const uint8_t *buf;
	size_t len;
	const char *label; /* the file name, or "Registry.pol data" */
	struct pp_error *err;
};

static void damaged(const struct preg_reader *r, size_t off, const char *fmt, ...) PP_PRINTF(3, 4);

static void damaged(const struct preg_reader *r, size_t off, const char *fmt, ...)
{
	char msg[PP_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pp_error_set(r->err, HR_ERROR_INVALID_DATA, "%s is damaged at byte offset %zu: %s",
		     r->label, off, msg);
}

/* Expects the UTF-16LE character ch (what: its role) at *off and steps over it. */
static int expect_char(const struct preg_reader *r, size_t *off, uint16_t ch, const char *what)
{
	if (r->len - *off < 2) {
		damaged(r, *off, "expected '%c' (%02X 00) %s, found the end of the file", (char)ch,
			(unsigned)ch, what);
		return -1;
	}
	if (le16_get(r->buf + *off) != ch) {
		damaged(r, *off, "expected '%c' (%02X 00) %s, found %02X %02X", (char)ch,
			(unsigned)ch, what, r->buf[*off], r->buf[*off + 1]);
		return -1;
	}
	*off += 2;
	return 0;
}

/* Reads a NUL-terminated UTF-16LE key path or value name at *off into a UTF-8 string. */
static char *read_name(const struct preg_reader *r, size_t *off, bool is_key)
{
	const char *what = is_key ? "key path" : "value name";
	size_t start = *off, units = 0, bad = 0, limit = is_key ? REGPOL_KEY_MAX : REGPOL_VALUE_MAX;
	const char *problem;
	bool oom;
	char *s;

	for (;;) {
		size_t at = start + 2 * units;

		if (r->len - at < 2) {
			damaged(
			    r, start,
			    "the %s starting here has no terminating NUL (00 00) before the end "
			    "of the file",
			    what);
			return NULL;
		}
		if (le16_get(r->buf + at) == 0)
			break;
		if (++units > limit) {
			damaged(r, start, "the %s starting here is longer than %zu UTF-16 units",
				what, limit);
			return NULL;
		}
	}
	problem = name_bound_problem(r->buf + start, units, is_key);
	if (problem != NULL) {
		damaged(r, start, "%s", problem);
		return NULL;
	}
	s = utf16_decode(r->buf + start, units, &bad, &oom);
	if (s == NULL && oom) {
		pp_error_set(r->err, HR_E_OUTOFMEMORY, "out of memory reading %s", r->label);
		return NULL;
	}
	if (s == NULL) {
		damaged(r, start + 2 * bad, "the %s is not valid UTF-16 (unpaired surrogate %04X)",
			what, (unsigned)le16_get(r->buf + start + 2 * bad));
		return NULL;
	}
	*off = start + 2 * units + 2;
	return s;
}

/* Reads a u32 (what: its role) at *off. */
static int read_u32(const struct preg_reader *r, size_t *off, uint32_t *v, const char *what)
{
	if (r->len - *off < 4) {
		damaged(r, *off, "expected the 4-byte %s, found the end of the file", what);
		return -1;
	}
	*v = le32_get(r->buf + *off);
	*off += 4;
	return 0;
}

/* Reads one entry at *off into pol. */
static int read_entry(const struct preg_reader *r, size_t *off, struct regpol *pol)
{
	char *key = NULL, *value = NULL;
	uint8_t *data = NULL;
	uint32_t type, size;
	size_t type_off, data_off;

	if (expect_char(r, off, CH_OPEN, "opening an entry") != 0)
		goto fail;
	if ((key = read_name(r, off, true)) == NULL)
		goto fail;
	if (expect_char(r, off, CH_SEP, "after the key path") != 0)
		goto fail;
	if ((value = read_name(r, off, false)) == NULL)
		goto fail;
	if (expect_char(r, off, CH_SEP, "after the value name") != 0)
		goto fail;
	type_off = *off;
	if (read_u32(r, off, &type, "value type") != 0)
		goto fail;
	if (type > REGPOL_REG_QWORD) {
		damaged(r, type_off, "unknown registry value type %u (expected 0 to 11)",
			(unsigned)type);
		goto fail;
	}
	if (expect_char(r, off, CH_SEP, "after the value type") != 0)
		goto fail;
	if (read_u32(r, off, &size, "data size") != 0)
		goto fail;
	if (expect_char(r, off, CH_SEP, "after the data size") != 0)
		goto fail;
	data_off = *off;
	if (size > r->len - data_off) {
		damaged(r, data_off - 6,
			"the data size %u runs past the end of the file (%zu bytes left)",
			(unsigned)size, r->len - data_off);
		goto fail;
	}
	if (is_string_type(type) && size % 2 != 0) {
		damaged(r, data_off - 6,
			"string data of type %u must be UTF-16 (an even size), but its size is %u",
			(unsigned)type, (unsigned)size);
		goto fail;
	}
	if (size > 0) {
		data = malloc(size);
		if (data == NULL) {
			pp_error_set(r->err, HR_E_OUTOFMEMORY, "out of memory reading %s",
				     r->label);
			goto fail;
		}
		memcpy(data, r->buf + data_off, size);
	}
	*off = data_off + size;
	if (expect_char(r, off, CH_CLOSE, "closing the entry") != 0)
		goto fail;
	return append_owned(pol, key, value, type, data, size, r->err);
fail:
	free(key);
	free(value);
	free(data);
	return -1;
}

static struct regpol *parse_labelled(const uint8_t *buf, size_t len, const char *label,
				     struct pp_error *err)
{
	struct preg_reader r = {.buf = buf, .len = len, .label = label, .err = err};
	struct regpol *pol = NULL;
	size_t off = PREG_HEADER_LEN;
	uint32_t version;

	if (buf == NULL && len > 0) {
		pp_error_set(err, HR_E_INVALIDARG, "no Registry.pol data given");
		return NULL;
	}
	if (len > REGPOL_FILE_MAX) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "%s is %zu bytes, over the %u bytes a Registry.pol may have", label,
			     len, REGPOL_FILE_MAX);
		return NULL;
	}
	if (len < PREG_HEADER_LEN) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT,
			     "%s: %zu bytes, too short for the 8-byte header of a Registry.pol "
			     "file",
			     label, len);
		return NULL;
	}
	if (memcmp(buf, "PReg", 4) != 0) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT,
			     "%s: byte offset 0: expected the Registry.pol signature 'PReg' (50 52 "
			     "65 67), found %02X %02X %02X %02X",
			     label, buf[0], buf[1], buf[2], buf[3]);
		return NULL;
	}
	version = le32_get(buf + 4);
	if (version != PREG_VERSION) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT,
			     "%s: byte offset 4: expected PReg version 1, found version %u", label,
			     (unsigned)version);
		return NULL;
	}
	pol = regpol_new(err);
	if (pol == NULL)
		return NULL;
	while (off < len) {
		if (read_entry(&r, &off, pol) != 0) {
			regpol_free(pol);
			return NULL;
		}
	}
	return pol;
}

struct regpol *regpol_parse(const uint8_t *buf, size_t len, struct pp_error *err)
{
	return parse_labelled(buf, len, "Registry.pol data", err);
}

struct regpol *regpol_read(const char *path, struct pp_error *err)
{
	struct regpol *pol = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, cap;
	struct stat st;
	ssize_t n;
	int fd;

	if (path == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no Registry.pol path given");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot stat '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT, "'%s' is not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)REGPOL_FILE_MAX) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "%s is %lld bytes, over the %u bytes a Registry.pol may have", path,
			     (long long)st.st_size, REGPOL_FILE_MAX);
		goto out;
	}
	/* One byte more than the size, so that a file that grows while it is read is noticed. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading '%s'", path);
		goto out;
	}
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == cap) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "'%s' changed while it was read; try again", path);
		goto out;
	}
	pol = parse_labelled(buf, len, path, err);
out:
	free(buf);
	close(fd);
	return pol;
}

/* ---- writer ---- */

/* Adds b to *total, failing on overflow or when past the file bound. */
static int grow(size_t *total, size_t b)
{
	if (b > REGPOL_FILE_MAX || *total > REGPOL_FILE_MAX - b)
		return -1;
	*total += b;
	return 0;
}

int regpol_serialize(const struct regpol *pol, uint8_t **out, size_t *len, struct pp_error *err)
{
	uint8_t **names = NULL, *buf = NULL, *p;
	size_t *units = NULL, total = PREG_HEADER_LEN, i;
	const char *problem;
	int rc = -1;

	if (pol == NULL || out == NULL || len == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "regpol_serialize needs a policy and outputs");
		return -1;
	}
	if (pol->count > 0) {
		names = calloc(pol->count * 2, sizeof(*names));
		units = calloc(pol->count * 2, sizeof(*units));
		if (names == NULL || units == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing a policy file");
			goto out;
		}
	}
	for (i = 0; i < pol->count; i++) {
		const struct regpol_entry *e = &pol->entries[i];

		if (e->type > REGPOL_REG_QWORD || (is_string_type(e->type) && e->size % 2 != 0) ||
		    (e->data == NULL && e->size > 0)) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "cannot write entry %zu ('%s\\%s'): type %u with %zu bytes of "
				     "data is not a valid registry value",
				     i, e->key, e->value, (unsigned)e->type, e->size);
			goto out;
		}
		names[2 * i] = regpol_utf16_encode(e->key, &units[2 * i], err);
		if (names[2 * i] == NULL)
			goto out;
		names[2 * i + 1] = regpol_utf16_encode(e->value, &units[2 * i + 1], err);
		if (names[2 * i + 1] == NULL)
			goto out;
		problem = name_bound_problem(names[2 * i], units[2 * i], true);
		if (problem == NULL)
			problem = name_bound_problem(names[2 * i + 1], units[2 * i + 1], false);
		if (problem != NULL) {
			pp_error_set(err, HR_E_INVALIDARG, "cannot write entry %zu: %s", i,
				     problem);
			goto out;
		}
		/* "[" key NUL ";" value NUL ";" type ";" size ";" data "]" */
		if (grow(&total, 2 + 2 * units[2 * i] + 2 + 2 + 2 * units[2 * i + 1] + 2 + 2 + 4 +
				     2 + 4 + 2 + 2) != 0 ||
		    grow(&total, e->size) != 0) {
			pp_error_set(
			    err, HR_ERROR_FILE_TOO_LARGE,
			    "the policy file would be over the %u bytes a Registry.pol may "
			    "have (at entry %zu, '%s\\%s')",
			    REGPOL_FILE_MAX, i, e->key, e->value);
			goto out;
		}
	}
	buf = malloc(total);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing a policy file");
		goto out;
	}
	memcpy(buf, "PReg", 4);
	le32_put(buf + 4, PREG_VERSION);
	p = buf + PREG_HEADER_LEN;
	for (i = 0; i < pol->count; i++) {
		const struct regpol_entry *e = &pol->entries[i];

		le16_put(p, CH_OPEN), p += 2;
		memcpy(p, names[2 * i], 2 * units[2 * i]), p += 2 * units[2 * i];
		le16_put(p, 0), p += 2;
		le16_put(p, CH_SEP), p += 2;
		memcpy(p, names[2 * i + 1], 2 * units[2 * i + 1]), p += 2 * units[2 * i + 1];
		le16_put(p, 0), p += 2;
		le16_put(p, CH_SEP), p += 2;
		le32_put(p, e->type), p += 4;
		le16_put(p, CH_SEP), p += 2;
		le32_put(p, (uint32_t)e->size), p += 4;
		le16_put(p, CH_SEP), p += 2;
		if (e->size > 0)
			memcpy(p, e->data, e->size);
		p += e->size;
		le16_put(p, CH_CLOSE), p += 2;
	}
	*out = buf;
	*len = total;
	buf = NULL;
	rc = 0;
out:
	for (i = 0; names != NULL && i < pol->count * 2; i++)
		free(names[i]);
	free(names);
	free(units);
	free(buf);
	return rc;
}

int regpol_write(const char *path, const struct regpol *pol, struct pp_error *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no Registry.pol path given");
		return -1;
	}
	if (regpol_serialize(pol, &buf, &len, err) != 0)
		return -1;
	rc = atomicfile_write(path, buf, len, 0644, true, err);
	free(buf);
	return rc;
}

/* ---- data helpers ---- */

int regpol_sz_make(const char *utf8, uint8_t **out, size_t *size, struct pp_error *err)
{
	size_t units;
	uint8_t *u;

	if (out == NULL || size == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "regpol_sz_make needs outputs");
		return -1;
	}
	u = regpol_utf16_encode(utf8, &units, err);
	if (u == NULL)
		return -1;
	/* regpol_utf16_encode leaves room for one more unit: the NUL. */
	le16_put(u + 2 * units, 0);
	*out = u;
	*size = 2 * units + 2;
	return 0;
}

char *regpol_sz_read(const uint8_t *data, size_t size, struct pp_error *err)
{
	size_t units = 0;

	if (data == NULL && size > 0) {
		pp_error_set(err, HR_E_INVALIDARG, "no string data given");
		return NULL;
	}
	if (size % 2 != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "string data must be UTF-16 (an even size), got %zu bytes", size);
		return NULL;
	}
	while (units < size / 2 && le16_get(data + 2 * units) != 0)
		units++;
	return regpol_utf16_decode(data, units, err);
}

void regpol_dword_make(uint32_t v, uint8_t out[4])
{
	le32_put(out, v);
}

int regpol_dword_read(uint32_t type, const uint8_t *data, size_t size, uint32_t *v,
		      struct pp_error *err)
{
	if (type != REGPOL_REG_DWORD && type != REGPOL_REG_DWORD_BIG_ENDIAN) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "expected a REG_DWORD (type 4 or 5), found type %u", (unsigned)type);
		return -1;
	}
	if (data == NULL || size != 4 || v == NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "a REG_DWORD holds exactly 4 bytes, found %zu", size);
		return -1;
	}
	if (type == REGPOL_REG_DWORD)
		*v = le32_get(data);
	else
		*v = ((uint32_t)data[0] << 24) | ((uint32_t)data[1] << 16) |
		     ((uint32_t)data[2] << 8) | data[3];
	return 0;
}

void regpol_qword_make(uint64_t v, uint8_t out[8])
{
	le32_put(out, (uint32_t)v);
	le32_put(out + 4, (uint32_t)(v >> 32));
}

int regpol_qword_read(const uint8_t *data, size_t size, uint64_t *v, struct pp_error *err)
{
	if (data == NULL || size != 8 || v == NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "a REG_QWORD holds exactly 8 bytes, found %zu", size);
		return -1;
	}
	*v = (uint64_t)le32_get(data) | ((uint64_t)le32_get(data + 4) << 32);
	return 0;
}

int regpol_multi_sz_make(const char *const *strings, size_t count, uint8_t **out, size_t *size,
			 struct pp_error *err)
{
	uint8_t *buf = NULL, *u, *nb;
	size_t total = 0, i, units;

	if ((strings == NULL && count > 0) || out == NULL || size == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "regpol_multi_sz_make needs strings and outputs");
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (strings[i] == NULL || strings[i][0] == '\0') {
			pp_error_set(err, HR_E_INVALIDARG,
				     "REG_MULTI_SZ string %zu is empty; an empty string would end "
				     "the list",
				     i);
			free(buf);
			return -1;
		}
		u = regpol_utf16_encode(strings[i], &units, err);
		if (u == NULL) {
			free(buf);
			return -1;
		}
		if (units > REGPOL_FILE_MAX / 2 || total > REGPOL_FILE_MAX - 2 * units - 2) {
			pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
				     "REG_MULTI_SZ data would be over %u bytes", REGPOL_FILE_MAX);
			free(u);
			free(buf);
			return -1;
		}
		nb = realloc(buf, total + 2 * units + 2 + 2);
		if (nb == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY,
				     "out of memory making REG_MULTI_SZ data");
			free(u);
			free(buf);
			return -1;
		}
		buf = nb;
		memcpy(buf + total, u, 2 * units);
		le16_put(buf + total + 2 * units, 0);
		total += 2 * units + 2;
		free(u);
	}
	if (buf == NULL) {
		buf = malloc(2);
		if (buf == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY,
				     "out of memory making REG_MULTI_SZ data");
			return -1;
		}
	}
	/* The list ends with an empty string: one more NUL. */
	le16_put(buf + total, 0);
	*out = buf;
	*size = total + 2;
	return 0;
}

void regpol_strings_free(char **strings)
{
	size_t i;

	if (strings == NULL)
		return;
	for (i = 0; strings[i] != NULL; i++)
		free(strings[i]);
	free(strings);
}

char **regpol_multi_sz_read(const uint8_t *data, size_t size, size_t *count, struct pp_error *err)
{
	size_t units, i, start = 0, n = 0, max;
	char **list;

	if ((data == NULL && size > 0) || count == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "regpol_multi_sz_read needs data and a count");
		return NULL;
	}
	if (size % 2 != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "REG_MULTI_SZ data must be UTF-16 (an even size), got %zu bytes",
			     size);
		return NULL;
	}
	units = size / 2;
	max = units / 2 + 1; /* each string takes at least one unit and its NUL */
	list = calloc(max + 1, sizeof(*list));
	if (list == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading REG_MULTI_SZ data");
		return NULL;
	}
	for (i = 0; i <= units; i++) {
		/* A string ends at a NUL or at the end of the data (a missing final NUL). */
		if (i < units && le16_get(data + 2 * i) != 0)
			continue;
		if (i == start)
			break; /* the empty string that ends the list */
		list[n] = regpol_utf16_decode(data + 2 * start, i - start, err);
		if (list[n] == NULL) {
			regpol_strings_free(list);
			return NULL;
		}
		n++;
		start = i + 1;
	}
	*count = n;
	return list;
}

/* ---- serialized certificate element ---- */

/* The SHA-1 of cert's DER encoding. */
static int cert_sha1(X509 *cert, uint8_t md[SHA1_LEN], struct pp_error *err)
{
	unsigned int n = 0;

	if (X509_digest(cert, EVP_sha1(), md, &n) != 1 || n != SHA1_LEN) {
		pp_error_set_openssl(err, HR_CRYPT_E_BAD_ENCODE,
				     "cannot compute the SHA-1 thumbprint of the certificate");
		return -1;
	}
	return 0;
}

static void hex_upper(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xF];
	}
	out[2 * n] = '\0';
}

/* Parses 40 hex digits (any case) into 20 bytes. */
static int parse_thumbprint(const char *s, uint8_t md[SHA1_LEN])
{
	size_t i;

	if (strlen(s) != REGPOL_THUMBPRINT_LEN)
		return -1;
	for (i = 0; i < REGPOL_THUMBPRINT_LEN; i++) {
		int c = (unsigned char)s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		if (i % 2 == 0)
			md[i / 2] = (uint8_t)(v << 4);
		else
			md[i / 2] |= (uint8_t)v;
	}
	return 0;
}

int regpol_cert_blob_make(X509 *cert, uint8_t **out, size_t *size, struct pp_error *err)
{
	uint8_t md[SHA1_LEN], *buf = NULL, *p;
	unsigned char *der = NULL;
	size_t total;
	int derlen;

	if (cert == NULL || out == NULL || size == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "regpol_cert_blob_make needs a certificate");
		return -1;
	}
	if (cert_sha1(cert, md, err) != 0)
		return -1;
	derlen = i2d_X509(cert, &der);
	if (derlen <= 0) {
		pp_error_set_openssl(err, HR_CRYPT_E_BAD_ENCODE,
				     "cannot DER-encode the certificate");
		return -1;
	}
	/* offset 0: id 3, 1, 20, SHA-1; offset 32: id 32, 1, DER length, DER */
	total = BLOB_PROP_HDR + SHA1_LEN + BLOB_PROP_HDR + (size_t)derlen;
	buf = malloc(total);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory making a certificate blob");
		OPENSSL_free(der);
		return -1;
	}
	p = buf;
	le32_put(p, REGPOL_CERT_SHA1_HASH_PROP_ID);
	le32_put(p + 4, 1);
	le32_put(p + 8, SHA1_LEN);
	memcpy(p + BLOB_PROP_HDR, md, SHA1_LEN);
	p += BLOB_PROP_HDR + SHA1_LEN;
	le32_put(p, REGPOL_CERT_CERT_PROP_ID);
	le32_put(p + 4, 1);
	le32_put(p + 8, (uint32_t)derlen);
	memcpy(p + BLOB_PROP_HDR, der, (size_t)derlen);
	OPENSSL_free(der);
	*out = buf;
	*size = total;
	return 0;
}

int regpol_cert_blob_parse(const uint8_t *blob, size_t size, const char *expected_thumbprint,
			   X509 **out, struct pp_error *err)
{
	const uint8_t *hash = NULL, *der = NULL, *dp;
	uint8_t want[SHA1_LEN], md[SHA1_LEN];
	char got_hex[2 * SHA1_LEN + 1], other_hex[2 * SHA1_LEN + 1];
	size_t off = 0, der_len = 0;
	X509 *cert = NULL;

	if ((blob == NULL && size > 0) || out == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "regpol_cert_blob_parse needs a blob");
		return -1;
	}
	if (expected_thumbprint != NULL && parse_thumbprint(expected_thumbprint, want) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "'%.64s' is not a certificate thumbprint (40 hex digits)",
			     expected_thumbprint);
		return -1;
	}
	while (off < size) {
		uint32_t id, reserved, cb;

		if (size - off < BLOB_PROP_HDR) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "certificate blob is damaged at byte offset %zu: a property "
				     "header needs 12 bytes, %zu are left",
				     off, size - off);
			return -1;
		}
		id = le32_get(blob + off);
		reserved = le32_get(blob + off + 4);
		cb = le32_get(blob + off + 8);
		if (reserved != 1) {
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "certificate blob is damaged at byte offset %zu: property %u has "
			    "reserved field %u, expected 1",
			    off + 4, (unsigned)id, (unsigned)reserved);
			return -1;
		}
		if (cb > size - off - BLOB_PROP_HDR) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "certificate blob is damaged at byte offset %zu: property %u "
				     "length %u runs past the end of the blob (%zu bytes left)",
				     off + 8, (unsigned)id, (unsigned)cb,
				     size - off - BLOB_PROP_HDR);
			return -1;
		}
		if (id == REGPOL_CERT_SHA1_HASH_PROP_ID || id == REGPOL_CERT_CERT_PROP_ID) {
			if ((id == REGPOL_CERT_SHA1_HASH_PROP_ID ? hash : der) != NULL) {
				pp_error_set(err, HR_ERROR_INVALID_DATA,
					     "certificate blob is damaged at byte offset %zu: "
					     "property %u appears twice",
					     off, (unsigned)id);
				return -1;
			}
			if (id == REGPOL_CERT_SHA1_HASH_PROP_ID && cb != SHA1_LEN) {
				pp_error_set(err, HR_ERROR_INVALID_DATA,
					     "certificate blob is damaged at byte offset %zu: the "
					     "SHA-1 hash property (3) is %u bytes, expected 20",
					     off + 8, (unsigned)cb);
				return -1;
			}
			if (id == REGPOL_CERT_SHA1_HASH_PROP_ID) {
				hash = blob + off + BLOB_PROP_HDR;
			} else {
				der = blob + off + BLOB_PROP_HDR;
				der_len = cb;
			}
		}
		off += BLOB_PROP_HDR + cb;
	}
	if (der == NULL) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "certificate blob holds no certificate (property 32, "
			     "CERT_CERT_PROP_ID)");
		return -1;
	}
	dp = der;
	cert = d2i_X509(NULL, &dp, (long)der_len);
	if (cert == NULL || (size_t)(dp - der) != der_len) {
		X509_free(cert);
		pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG,
				     "certificate blob: property 32 is not one DER certificate");
		return -1;
	}
	if (cert_sha1(cert, md, err) != 0)
		goto fail;
	hex_upper(md, SHA1_LEN, got_hex);
	if (hash != NULL && memcmp(hash, md, SHA1_LEN) != 0) {
		hex_upper(hash, SHA1_LEN, other_hex);
		pp_error_set(err, HR_CRYPT_E_NO_MATCH,
			     "certificate blob: the hash property (3) %s does not match the "
			     "certificate's SHA-1 %s",
			     other_hex, got_hex);
		goto fail;
	}
	if (expected_thumbprint != NULL && memcmp(want, md, SHA1_LEN) != 0) {
		hex_upper(want, SHA1_LEN, other_hex);
		pp_error_set(err, HR_CRYPT_E_NO_MATCH,
			     "certificate blob under key name %s holds the certificate with "
			     "SHA-1 %s",
			     other_hex, got_hex);
		goto fail;
	}
	*out = cert;
	return 0;
fail:
	X509_free(cert);
	return -1;
}

int regpol_add_cert(struct regpol *pol, const char *store, X509 *cert, struct pp_error *err)
{
	uint8_t md[SHA1_LEN], *blob = NULL;
	char hex[2 * SHA1_LEN + 1], *key = NULL;
	size_t size = 0;
	int rc = -1;

	if (pol == NULL || store == NULL || store[0] == '\0' || strchr(store, '\\') != NULL ||
	    cert == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "regpol_add_cert needs a policy, a store name without '\\' and a "
			     "certificate");
		return -1;
	}
	if (cert_sha1(cert, md, err) != 0)
		return -1;
	hex_upper(md, SHA1_LEN, hex);
	if (asprintf(&key, "%s%s\\Certificates\\%s", REGPOL_CERT_KEY_PREFIX, store, hex) < 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory building a certificate key");
		return -1;
	}
	if (regpol_cert_blob_make(cert, &blob, &size, err) != 0)
		goto out;
	rc = regpol_add(pol, key, REGPOL_CERT_VALUE, REGPOL_REG_BINARY, blob, size, err);
out:
	free(blob);
	free(key);
	return rc;
}
