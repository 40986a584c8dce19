/* upload.c - resumable chunked uploads on disk (see upload.h and docs/internals/uploads.md).
 *
 * The record <id>.json is the truth about what was acknowledged: it is replaced (durably) only
 * after the chunk it counts is on disk, so a crash leaves either the old record with a longer
 * data file (cut back on the next append) or the new one with its data. */
#include "upload.h"

#include "atomicfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#define UPLOAD_META_MAX	   4096	      /* bytes of a record */
#define UPLOAD_META_FORMAT 1	      /* "v" of a record */
#define UPLOAD_HASH_BUF	   (1u << 20) /* read size while hashing the data */
#define META_SUFFIX	   ".json"
#define PART_SUFFIX	   ".part"
#define TEMP_HEX	   16 /* atomicfile's ".<name>.<16 hex>" temporary names */

static const char hexdigits[] = "0123456789abcdef";

/* ---- names ---- */

static bool is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool upload_id_valid(const char *id)
{
	return id != NULL && strnlen(id, UPLOAD_ID_LEN + 1) == UPLOAD_ID_LEN &&
	       is_lower_hex(id, UPLOAD_ID_LEN);
}

bool upload_name_valid(const char *name)
{
	size_t n, i;

	if (name == NULL)
		return false;
	n = strnlen(name, UPLOAD_NAME_MAX + 1);
	if (n == 0 || n > UPLOAD_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

/* Copies a 64-hex-digit SHA-256 (either case) into out in lower case; -1 when it is not one. */
static int sha256_normalize(const char *hex, char out[UPLOAD_SHA256_HEX_LEN + 1])
{
	size_t i;

	if (strnlen(hex, UPLOAD_SHA256_HEX_LEN + 1) != UPLOAD_SHA256_HEX_LEN)
		return -1;
	for (i = 0; i < UPLOAD_SHA256_HEX_LEN; i++) {
		char c = hex[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[UPLOAD_SHA256_HEX_LEN] = '\0';
	return 0;
}

/* The checked id first, so that no file name is ever built from anything else. */
static int check_id(const char *id, struct pp_error *err)
{
	if (upload_id_valid(id))
		return 0;
	pp_error_set(err, UPLOAD_E_BAD_ID, "upload id '%.40s%s' is not %d lower-case hex digits",
		     id != NULL ? id : "", id != NULL && strlen(id) > 40 ? "..." : "",
		     UPLOAD_ID_LEN);
	return -1;
}

/* dir/<id><suffix> into out. */
static int upload_path(char *out, size_t size, const char *dir, const char *id, const char *suffix,
		       struct pp_error *err)
{
	int n = snprintf(out, size, "%s/%s%s", dir, id, suffix);

	if (n < 0 || (size_t)n >= size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "the uploads directory path is too long: %s", dir);
		return -1;
	}
	return 0;
}

/* ---- I/O helpers ---- */

static int write_all_at(int fd, const void *data, size_t len, uint64_t offset)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int lock_file(int fd, int how)
{
	int rc;

	do
		rc = flock(fd, how);
	while (rc != 0 && errno == EINTR);
	return rc;
}

static void hex_encode(const unsigned char *bin, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdigits[bin[i] >> 4];
		out[2 * i + 1] = hexdigits[bin[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SHA-256 of the first size bytes of fd, as lower-case hex. */
static int hash_data(int fd, uint64_t size, const char *id, char out[UPLOAD_SHA256_HEX_LEN + 1],
		     struct pp_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = malloc(UPLOAD_HASH_BUF), digest[32];
	uint64_t off = 0;
	unsigned dlen = 0;
	int rc = -1;

	if (md == NULL || buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory while hashing upload %s", id);
		goto out;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot start SHA-256");
		goto out;
	}
	while (off < size) {
		size_t want = size - off < UPLOAD_HASH_BUF ? (size_t)(size - off) : UPLOAD_HASH_BUF;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pp_error_set_errno(err, n < 0 ? errno : EIO, "cannot read upload %s", id);
			goto out;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			pp_error_set_openssl(err, HR_E_FAIL, "SHA-256 failed");
			goto out;
		}
		off += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != sizeof(digest)) {
		pp_error_set_openssl(err, HR_E_FAIL, "SHA-256 failed");
		goto out;
	}
	hex_encode(digest, sizeof(digest), out);
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}

/* ---- the record ---- */

static int meta_write(const char *dir, const struct upload_info *info, struct pp_error *err)
{
	char path[PATH_MAX];
	json_t *doc;
	char *text = NULL;
	int rc = -1;

	if (upload_path(path, sizeof(path), dir, info->id, META_SUFFIX, err) != 0)
		return -1;
	doc = json_pack("{s:i, s:s, s:I, s:I, s:b, s:s?, s:s?, s:I, s:I}", "v", UPLOAD_META_FORMAT,
			"id", info->id, "size", (json_int_t)info->size, "received",
			(json_int_t)info->received, "complete", info->complete, "sha256",
			info->sha256[0] != '\0' ? info->sha256 : NULL, "name",
			info->name[0] != '\0' ? info->name : NULL, "created_at",
			(json_int_t)info->created_at, "updated_at", (json_int_t)info->updated_at);
	if (doc != NULL)
		text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory while recording upload %s",
			     info->id);
		return -1;
	}
	if (atomicfile_write(path, text, strlen(text), 0600, true, err) != 0)
		goto out;
	rc = 0;
out:
	free(text);
	return rc;
}

/* An integer member within [0, max]. */
static int meta_uint(const json_t *doc, const char *key, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(doc, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* An optional string member that passes check (NULL: any), copied into out; "" when null. */
static int meta_str(const json_t *doc, const char *key, bool (*check)(const char *), char *out,
		    size_t size)
{
	const json_t *v = json_object_get(doc, key);

	out[0] = '\0';
	if (json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    (check != NULL && !check(json_string_value(v))))
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static bool sha256_hex_valid(const char *s)
{
	return strlen(s) == UPLOAD_SHA256_HEX_LEN && is_lower_hex(s, UPLOAD_SHA256_HEX_LEN);
}

/* Parses a record read from disk into *info; everything in it is checked. */
static int meta_parse(const char *text, size_t len, const char *id, struct upload_info *info)
{
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	uint64_t v, created, updated;
	const json_t *complete;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	if (!json_is_object(doc) || meta_uint(doc, "v", UPLOAD_META_FORMAT, &v) != 0 ||
	    v != UPLOAD_META_FORMAT || !json_is_string(json_object_get(doc, "id")) ||
	    strcmp(json_string_value(json_object_get(doc, "id")), id) != 0 ||
	    meta_uint(doc, "size", UPLOAD_SIZE_MAX, &info->size) != 0 ||
	    meta_uint(doc, "received", info->size, &info->received) != 0 ||
	    meta_uint(doc, "created_at", INT64_MAX, &created) != 0 ||
	    meta_uint(doc, "updated_at", INT64_MAX, &updated) != 0 ||
	    meta_str(doc, "sha256", sha256_hex_valid, info->sha256, sizeof(info->sha256)) != 0 ||
	    meta_str(doc, "name", upload_name_valid, info->name, sizeof(info->name)) != 0)
		goto out;
	complete = json_object_get(doc, "complete");
	if (!json_is_boolean(complete))
		goto out;
	info->complete = json_is_true(complete);
	if (info->complete && (info->received != info->size || info->sha256[0] == '\0'))
		goto out;
	memcpy(info->id, id, UPLOAD_ID_LEN + 1);
	info->created_at = (int64_t)created;
	info->updated_at = (int64_t)updated;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* Reads the record of id (already checked). UPLOAD_E_NOT_FOUND when there is none. */
static int meta_read(const char *dir, const char *id, struct upload_info *info,
		     struct pp_error *err)
{
	char path[PATH_MAX], text[UPLOAD_META_MAX + 1];
	struct stat st;
	size_t len = 0;
	int fd = -1, rc = -1;

	if (upload_path(path, sizeof(path), dir, id, META_SUFFIX, err) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			pp_error_set(err, UPLOAD_E_NOT_FOUND, "no upload %s (it may have expired)",
				     id);
		else
			pp_error_set_errno(err, errno, "cannot read the record of upload %s", id);
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > UPLOAD_META_MAX) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT, "the record of upload %s is damaged", id);
		goto out;
	}
	while (len < sizeof(text) - 1) {
		ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read the record of upload %s", id);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (meta_parse(text, len, id, info) != 0) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT, "the record of upload %s is damaged", id);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

/* Opens the data file of id (checked) with flags; UPLOAD_E_NOT_FOUND when there is none. */
static int part_open(const char *dir, const char *id, int flags, struct pp_error *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (upload_path(path, sizeof(path), dir, id, PART_SUFFIX, err) != 0)
		return -1;
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			pp_error_set(err, UPLOAD_E_NOT_FOUND, "no upload %s (it may have expired)",
				     id);
		else
			pp_error_set_errno(err, errno, "cannot open the data of upload %s", id);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT, "the data of upload %s is not a file", id);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* The record of id with received made to agree with the data file open at fd: the bytes
 * acknowledged, or fewer if the data file lost some (then they must be sent again). */
static int state_read(const char *dir, const char *id, int fd, struct upload_info *info,
		      off_t *data_len, struct pp_error *err)
{
	struct stat st;

	if (meta_read(dir, id, info, err) != 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot read the data of upload %s", id);
		return -1;
	}
	*data_len = st.st_size;
	if ((uint64_t)st.st_size < info->received) {
		info->received = (uint64_t)st.st_size;
		info->complete = false;
	}
	return 0;
}

/* Unlinks the record first, then the data: a data file alone is not an upload. */
static void files_remove(const char *dir, const char *id)
{
	char path[PATH_MAX];

	if (upload_path(path, sizeof(path), dir, id, META_SUFFIX, NULL) == 0)
		(void)unlink(path);
	if (upload_path(path, sizeof(path), dir, id, PART_SUFFIX, NULL) == 0)
		(void)unlink(path);
}

/* ---- the directory ---- */

/* What a directory entry is: an upload's record or data file (id filled in), a temporary file
 * left by atomicfile for a record, or something else. */
enum entry_kind { ENTRY_OTHER, ENTRY_META, ENTRY_PART, ENTRY_TEMP };

static enum entry_kind entry_kind(const char *name, char id[UPLOAD_ID_LEN + 1])
{
	size_t n = strlen(name), sl = strlen(META_SUFFIX);

	/* ".<id>.json.<16 hex>" */
	if (n == 1 + UPLOAD_ID_LEN + sl + 1 + TEMP_HEX && name[0] == '.' &&
	    is_lower_hex(name + 1, UPLOAD_ID_LEN) &&
	    memcmp(name + 1 + UPLOAD_ID_LEN, META_SUFFIX ".", sl + 1) == 0 &&
	    is_lower_hex(name + 1 + UPLOAD_ID_LEN + sl + 1, TEMP_HEX))
		return ENTRY_TEMP;
	if (n != UPLOAD_ID_LEN + sl || !is_lower_hex(name, UPLOAD_ID_LEN))
		return ENTRY_OTHER;
	memcpy(id, name, UPLOAD_ID_LEN);
	id[UPLOAD_ID_LEN] = '\0';
	if (strcmp(name + UPLOAD_ID_LEN, META_SUFFIX) == 0)
		return ENTRY_META;
	if (strcmp(name + UPLOAD_ID_LEN, PART_SUFFIX) == 0)
		return ENTRY_PART;
	return ENTRY_OTHER;
}

/* Number of uploads (records) in dir. */
static int count_uploads(const char *dir, unsigned *count, struct pp_error *err)
{
	char id[UPLOAD_ID_LEN + 1];
	DIR *d = opendir(dir);
	const struct dirent *e;

	*count = 0;
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read the uploads directory %s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (entry_kind(e->d_name, id) == ENTRY_META)
			(*count)++;
	(void)closedir(d);
	return 0;
}

static int new_id(char id[UPLOAD_ID_LEN + 1], struct pp_error *err)
{
	unsigned char rnd[UPLOAD_ID_LEN / 2];
	ssize_t got;

	do
		got = getrandom(rnd, sizeof(rnd), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(rnd)) {
		pp_error_set_errno(err, got < 0 ? errno : EIO, "no random bytes for an upload id");
		return -1;
	}
	hex_encode(rnd, sizeof(rnd), id);
	return 0;
}

/* ---- operations ---- */

int upload_create(const char *dir, uint64_t size, const char *sha256_hex, const char *name,
		  struct upload_info *out, struct pp_error *err)
{
	struct upload_info info;
	char path[PATH_MAX], expected[UPLOAD_SHA256_HEX_LEN + 1] = "";
	struct statvfs vfs;
	unsigned count;
	int fd = -1, rc = -1;
	bool made = false;

	memset(&info, 0, sizeof(info));
	if (size > UPLOAD_SIZE_MAX) {
		pp_error_set(err, UPLOAD_E_TOO_LARGE,
			     "an upload of %llu bytes is over the limit of %llu bytes (%llu GiB)",
			     (unsigned long long)size, (unsigned long long)UPLOAD_SIZE_MAX,
			     (unsigned long long)(UPLOAD_SIZE_MAX >> 30));
		goto out;
	}
	if (sha256_hex != NULL && sha256_normalize(sha256_hex, expected) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "sha256 must be %d hex digits",
			     UPLOAD_SHA256_HEX_LEN);
		goto out;
	}
	if (name != NULL && !upload_name_valid(name)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "name must be 1 to %d bytes without '/' or control characters, and "
			     "not '.' or '..'",
			     UPLOAD_NAME_MAX);
		goto out;
	}
	if (count_uploads(dir, &count, err) != 0)
		goto out;
	if (count >= UPLOAD_COUNT_MAX) {
		pp_error_set(err, UPLOAD_E_NO_SPACE,
			     "%u uploads are open, the most there can be; finish or delete one",
			     count);
		goto out;
	}
	if (statvfs(dir, &vfs) != 0) {
		pp_error_set_errno(err, errno, "cannot read the free space of %s", dir);
		goto out;
	}
	if ((uint64_t)vfs.f_bavail < size / (vfs.f_frsize != 0 ? vfs.f_frsize : 1)) {
		pp_error_set(err, UPLOAD_E_NO_SPACE,
			     "an upload of %llu bytes does not fit: %llu bytes are free in %s",
			     (unsigned long long)size,
			     (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize,
			     dir);
		goto out;
	}
	if (new_id(info.id, err) != 0 ||
	    upload_path(path, sizeof(path), dir, info.id, PART_SUFFIX, err) != 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot create upload %s in %s", info.id, dir);
		goto out;
	}
	made = true;
	info.size = size;
	info.created_at = info.updated_at = (int64_t)time(NULL);
	memcpy(info.sha256, expected, sizeof(expected));
	if (name != NULL)
		memcpy(info.name, name, strlen(name) + 1);
	if (size == 0) {
		char got[UPLOAD_SHA256_HEX_LEN + 1];

		if (hash_data(fd, 0, info.id, got, err) != 0)
			goto out;
		if (expected[0] != '\0' && strcmp(got, expected) != 0) {
			pp_error_set(
			    err, UPLOAD_E_DIGEST_MISMATCH,
			    "upload %s: SHA-256 of the received 0 bytes is %s, expected %s",
			    info.id, got, expected);
			goto out;
		}
		memcpy(info.sha256, got, sizeof(got));
		info.complete = true;
	}
	if (meta_write(dir, &info, err) != 0)
		goto out;
	*out = info;
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	if (rc != 0 && made)
		files_remove(dir, info.id);
	return rc;
}

int upload_append(const char *dir, const char *id, uint64_t offset, const void *data, size_t len,
		  struct upload_info *out, struct pp_error *err)
{
	struct upload_info info;
	char got[UPLOAD_SHA256_HEX_LEN + 1];
	off_t data_len;
	int fd = -1, rc = -1;

	if (check_id(id, err) != 0)
		return -1;
	fd = part_open(dir, id, O_RDWR, err);
	if (fd < 0)
		return -1;
	/* One writer per upload; the record is read under the lock, so a removal that came first
	 * is seen (the record is gone). */
	if (lock_file(fd, LOCK_EX) != 0) {
		pp_error_set_errno(err, errno, "cannot lock upload %s", id);
		goto out;
	}
	if (state_read(dir, id, fd, &info, &data_len, err) != 0)
		goto out;
	if (offset != info.received) {
		pp_error_set(err, UPLOAD_E_OFFSET_MISMATCH,
			     "upload %s has %llu bytes; send from offset %llu", id,
			     (unsigned long long)info.received, (unsigned long long)info.received);
		*out = info;
		goto out;
	}
	if (len > info.size - info.received) {
		pp_error_set(
		    err, UPLOAD_E_TOO_LARGE,
		    "upload %s: %zu bytes at offset %llu go past its declared size of %llu "
		    "bytes",
		    id, len, (unsigned long long)offset, (unsigned long long)info.size);
		goto out;
	}
	if (len == 0) {
		*out = info;
		rc = 0;
		goto out;
	}
	/* A tail written but never acknowledged (a crash, a failed write) goes first. */
	if ((uint64_t)data_len > info.received && ftruncate(fd, (off_t)info.received) != 0) {
		pp_error_set_errno(err, errno, "cannot truncate upload %s", id);
		goto out;
	}
	if (write_all_at(fd, data, len, offset) != 0 || fdatasync(fd) != 0) {
		pp_error_set_errno(err, errno, "cannot write upload %s", id);
		(void)!ftruncate(fd, (off_t)info.received);
		goto out;
	}
	info.received = offset + len;
	if (info.received == info.size) {
		if (hash_data(fd, info.size, id, got, err) != 0)
			goto out;
		if (info.sha256[0] != '\0' && strcmp(got, info.sha256) != 0) {
			pp_error_set(
			    err, UPLOAD_E_DIGEST_MISMATCH,
			    "upload %s: SHA-256 of the received %llu bytes is %s, expected "
			    "%s",
			    id, (unsigned long long)info.size, got, info.sha256);
			files_remove(dir, id);
			goto out;
		}
		memcpy(info.sha256, got, sizeof(got));
		info.complete = true;
	}
	info.updated_at = (int64_t)time(NULL);
	if (meta_write(dir, &info, err) != 0)
		goto out;
	*out = info;
	rc = 0;
out:
	(void)close(fd); /* and with it the lock */
	return rc;
}

int upload_get(const char *dir, const char *id, struct upload_info *out, struct pp_error *err)
{
	struct upload_info info;
	off_t data_len;
	int fd, rc;

	if (check_id(id, err) != 0)
		return -1;
	fd = part_open(dir, id, O_RDONLY, err);
	if (fd < 0)
		return -1;
	rc = state_read(dir, id, fd, &info, &data_len, err);
	(void)close(fd);
	if (rc == 0)
		*out = info;
	return rc;
}

int upload_remove(const char *dir, const char *id, struct pp_error *err)
{
	char meta[PATH_MAX], part[PATH_MAX];
	struct pp_error ignored;
	bool had_meta, had_part;
	int fd, rc = -1;

	if (check_id(id, err) != 0 ||
	    upload_path(meta, sizeof(meta), dir, id, META_SUFFIX, err) != 0 ||
	    upload_path(part, sizeof(part), dir, id, PART_SUFFIX, err) != 0)
		return -1;
	/* Wait for a chunk being written, so that its record is not written back after us. */
	pp_error_clear(&ignored);
	fd = part_open(dir, id, O_RDONLY, &ignored);
	if (fd >= 0 && lock_file(fd, LOCK_EX) != 0) {
		pp_error_set_errno(err, errno, "cannot lock upload %s", id);
		goto out;
	}
	/* The record first: a data file alone is not an upload. */
	had_meta = unlink(meta) == 0;
	if (!had_meta && errno != ENOENT) {
		pp_error_set_errno(err, errno, "cannot remove upload %s", id);
		goto out;
	}
	had_part = unlink(part) == 0;
	if (!had_part && errno != ENOENT) {
		pp_error_set_errno(err, errno, "cannot remove the data of upload %s", id);
		goto out;
	}
	if (!had_meta && !had_part) {
		pp_error_set(err, UPLOAD_E_NOT_FOUND, "no upload %s (it may have expired)", id);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

int upload_open_complete(const char *dir, const char *id, int *fd, uint64_t *size,
			 struct pp_error *err)
{
	struct upload_info info;
	off_t data_len;
	int f;

	*fd = -1;
	if (check_id(id, err) != 0)
		return -1;
	f = part_open(dir, id, O_RDONLY, err);
	if (f < 0)
		return -1;
	if (state_read(dir, id, f, &info, &data_len, err) != 0)
		goto fail;
	if (!info.complete) {
		pp_error_set(err, UPLOAD_E_INCOMPLETE,
			     "upload %s is not complete: %llu of %llu bytes received", id,
			     (unsigned long long)info.received, (unsigned long long)info.size);
		goto fail;
	}
	if ((uint64_t)data_len != info.size) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT,
			     "the data of upload %s has %lld bytes, not the %llu it was given", id,
			     (long long)data_len, (unsigned long long)info.size);
		goto fail;
	}
	*fd = f;
	*size = info.size;
	return 0;
fail:
	(void)close(f);
	return -1;
}

/* True when the entry name of dirfd is a regular file last changed more than max_age before
 * now; false also when it is gone. */
static bool entry_old(int dirfd, const char *name, int64_t max_age, int64_t now)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
		return false;
	return now - (int64_t)st.st_mtime > max_age;
}

/* Removes the upload whose record is name, unless a chunk is being written to it or it was
 * touched while we waited. True when it was removed. */
static bool expire_one(int dirfd, const char *name, const char *id, int64_t max_age, int64_t now)
{
	char part[UPLOAD_ID_LEN + sizeof(PART_SUFFIX)];
	bool removed = false;
	int fd;

	(void)snprintf(part, sizeof(part), "%s%s", id, PART_SUFFIX);
	fd = openat(dirfd, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0 && lock_file(fd, LOCK_EX | LOCK_NB) != 0) {
		(void)close(fd);
		return false; /* busy: a chunk is being written, so it is not idle */
	}
	if (entry_old(dirfd, name, max_age, now)) {
		removed = unlinkat(dirfd, name, 0) == 0;
		(void)unlinkat(dirfd, part, 0);
	}
	if (fd >= 0)
		(void)close(fd);
	return removed;
}

int upload_expire(const char *dir, int64_t max_age_seconds, int64_t now, unsigned *removed,
		  struct pp_error *err)
{
	char id[UPLOAD_ID_LEN + 1], meta[UPLOAD_ID_LEN + sizeof(META_SUFFIX)];
	const struct dirent *e;
	unsigned count = 0;
	struct stat st;
	DIR *d;
	int dfd;

	if (removed != NULL)
		*removed = 0;
	d = opendir(dir);
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read the uploads directory %s", dir);
		return -1;
	}
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		switch (entry_kind(e->d_name, id)) {
		case ENTRY_META:
			if (entry_old(dfd, e->d_name, max_age_seconds, now) &&
			    expire_one(dfd, e->d_name, id, max_age_seconds, now))
				count++;
			break;
		case ENTRY_PART:
			/* A data file without a record: a create or a removal cut short. */
			(void)snprintf(meta, sizeof(meta), "%s%s", id, META_SUFFIX);
			if (fstatat(dfd, meta, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
			    entry_old(dfd, e->d_name, max_age_seconds, now) &&
			    unlinkat(dfd, e->d_name, 0) == 0)
				count++;
			break;
		case ENTRY_TEMP:
			if (entry_old(dfd, e->d_name, max_age_seconds, now))
				(void)unlinkat(dfd, e->d_name, 0);
			break;
		case ENTRY_OTHER:
			break;
		}
	}
	(void)closedir(d);
	if (removed != NULL)
		*removed = count;
	return 0;
}

int upload_data_path(const char *dir, const char *id, char *out, size_t size, struct pp_error *err)
{
	return upload_path(out, size, dir, id, PART_SUFFIX, err);
}
