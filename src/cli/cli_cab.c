/* cli_cab.c - patchpoint cab create|list|extract. */
#include "cli.h"

#include "atomicfile.h"
#include "authenticode.h"
#include "hresult.h"
#include "pki.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static const char cab_create_manual[] =
    "NAME\n"
    "    patchpoint cab create - build a cabinet, optionally Authenticode-signed\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint cab create [--compress none|mszip] [--sign-pfx FILE\n"
    "                          [--password-file FILE]] [--force] -o OUT.cab FILE|DIR...\n"
    "\n"
    "DESCRIPTION\n"
    "    Stores each FILE under its base name and every file below each DIR under its path\n"
    "    relative to DIR, unchanged, in one folder. With --sign-pfx the cabinet is signed as\n"
    "    it is written: the Authenticode digest (SHA-256) is computed in the same pass, so\n"
    "    every input file is read exactly once. The cabinet is written to a temporary file\n"
    "    and renamed into place, so a failure leaves nothing behind.\n"
    "\n"
    "OPTIONS\n"
    "    -o, --out FILE        the cabinet to write (required)\n"
    "    --compress METHOD     none or mszip (default mszip, as makecab)\n"
    "    --sign-pfx FILE       sign with the certificate and key in this PFX (or PEM)\n"
    "    --password-file FILE  PFX password (first line of FILE)\n"
    "    --force               replace an existing output file\n"
    "\n"
    "LIMITS\n"
    "    65535 files, 255-byte names, 2 GB per file and per cabinet (MS-CAB).\n";

static const char cab_list_manual[] =
    "NAME\n"
    "    patchpoint cab list - list the files of a cabinet\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint cab list FILE.cab [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints size, date and name of every file, the compression of each folder and\n"
    "    whether the cabinet carries an Authenticode signature (use 'patchpoint verify' to\n"
    "    check it).\n";

static const char cab_extract_manual[] =
    "NAME\n"
    "    patchpoint cab extract - extract every file of a cabinet\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint cab extract FILE.cab -d DIR\n"
    "\n"
    "DESCRIPTION\n"
    "    Decompresses and checks every data block, then moves the files into DIR (created\n"
    "    when missing). Names that are absolute, carry a drive letter or '..', or would\n"
    "    leave DIR are refused before anything is written; a damaged cabinet leaves DIR as\n"
    "    it was.\n";

enum { OPT_COMPRESS = 256, OPT_SIGN_PFX, OPT_PASSWORD_FILE, OPT_FORCE, OPT_JSON };

/* The inputs of cab create: source paths and names inside the cabinet. */
struct cab_inputs {
	char **files;
	char **names;
	size_t count;
	size_t cap;
};

static void inputs_free(struct cab_inputs *in)
{
	size_t i;

	for (i = 0; i < in->count; i++) {
		free(in->files[i]);
		free(in->names[i]);
	}
	free(in->files);
	free(in->names);
}

static int inputs_add(struct cab_inputs *in, const char *file, const char *name,
		      struct pp_error *err)
{
	size_t i;

	for (i = 0; i < in->count; i++) {
		if (strcmp(in->names[i], name) == 0) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "two inputs would both be stored as '%s' (%s and %s)", name,
				     in->files[i], file);
			return -1;
		}
	}
	if (in->count >= CAB_MAX_FILES) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "more than %u files for one cabinet",
			     CAB_MAX_FILES);
		return -1;
	}
	if (in->count == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 16;
		char **f = realloc(in->files, cap * sizeof(*f));

		if (f == NULL)
			goto oom;
		in->files = f;
		f = realloc(in->names, cap * sizeof(*f));
		if (f == NULL)
			goto oom;
		in->names = f;
		in->cap = cap;
	}
	in->files[in->count] = strdup(file);
	in->names[in->count] = strdup(name);
	if (in->files[in->count] == NULL || in->names[in->count] == NULL) {
		free(in->files[in->count]);
		free(in->names[in->count]);
		goto oom;
	}
	in->count++;
	return 0;
oom:
	pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory collecting input files");
	return -1;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every regular file below dir, named by its path relative to the top directory, in
 * sorted order so that the same tree always gives the same cabinet. */
static int inputs_add_dir(struct cab_inputs *in, const char *dir, const char *prefix, int depth,
			  struct pp_error *err)
{
	DIR *d = NULL;
	struct dirent *e;
	char **entries = NULL;
	size_t n = 0, cap = 0, i;
	int rc = -1;

	if (depth > 32) {
		pp_error_set(err, HR_E_INVALIDARG, "%s: directories nested too deep", dir);
		return -1;
	}
	d = opendir(dir);
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read directory %s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **grown;

			cap = cap ? cap * 2 : 32;
			grown = realloc(entries, cap * sizeof(*grown));
			if (grown == NULL)
				goto oom;
			entries = grown;
		}
		entries[n] = strdup(e->d_name);
		if (entries[n] == NULL)
			goto oom;
		n++;
	}
	if (n > 1)
		qsort(entries, n, sizeof(*entries), compare_names);
	for (i = 0; i < n; i++) {
		char path[4096], name[4096];
		struct stat st;

		if (snprintf(path, sizeof(path), "%s/%s", dir, entries[i]) >= (int)sizeof(path) ||
		    snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "/" : "",
			     entries[i]) >= (int)sizeof(name)) {
			pp_error_set(err, HR_ERROR_INVALID_NAME, "path too long below %s", dir);
			goto out;
		}
		if (lstat(path, &st) != 0) {
			pp_error_set_errno(err, errno, "cannot stat %s", path);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			if (inputs_add_dir(in, path, name, depth + 1, err) != 0)
				goto out;
		} else if (S_ISREG(st.st_mode)) {
			if (inputs_add(in, path, name, err) != 0)
				goto out;
		} else {
			pp_error_set(err, HR_E_INVALIDARG,
				     "%s is neither a regular file nor a directory", path);
			goto out;
		}
	}
	rc = 0;
	goto out;
oom:
	pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s", dir);
out:
	for (i = 0; i < n; i++)
		free(entries[i]);
	free(entries);
	closedir(d);
	return rc;
}

static int inputs_collect(struct cab_inputs *in, int argc, char **argv, struct pp_error *err)
{
	int i;

	for (i = 0; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			pp_error_set_errno(err, errno, "cannot read %s", argv[i]);
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (inputs_add_dir(in, argv[i], "", 0, err) != 0)
				return -1;
		} else {
			char *copy = strdup(argv[i]);
			int rc;

			if (copy == NULL) {
				pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
				return -1;
			}
			rc = inputs_add(in, argv[i], basename(copy), err);
			free(copy);
			if (rc != 0)
				return -1;
		}
	}
	if (in->count == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "no files to put in the cabinet");
		return -1;
	}
	return 0;
}

/* Writes an unsigned cabinet to a temporary file next to out and renames it into place; not
 * flushed, like the signed path (docs/internals/authenticode.md). */
static int write_unsigned(const char *out, const struct cab_inputs *in,
			  enum cab_compression compression, struct cli_progress *progress,
			  struct pp_error *err)
{
	struct cab_writer_options opts = {
	    .compression = compression, .progress = cli_progress_update, .progress_ctx = progress};
	struct atomicfile af = ATOMICFILE_INIT;
	struct cab_writer *w = NULL;
	int rc = -1;
	size_t i;

	if (atomicfile_open(&af, out, err) != 0)
		return -1;
	w = cab_writer_new(af.fd, &opts, err);
	if (w == NULL)
		goto out;
	for (i = 0; i < in->count; i++) {
		if (cab_writer_add_file(w, in->files[i], in->names[i], err) != 0)
			goto out;
	}
	if (cab_writer_finish(w, NULL, err) != 0 || atomicfile_commit(&af, 0644, false, err) != 0)
		goto out;
	rc = 0;
out:
	cab_writer_free(w);
	atomicfile_abort(&af);
	return rc;
}

static int cab_create(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"compress", required_argument, NULL, OPT_COMPRESS},
	    {"sign-pfx", required_argument, NULL, OPT_SIGN_PFX},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *sign_pfx = NULL, *password_file = NULL;
	enum cab_compression compression = CAB_COMPRESS_MSZIP;
	struct cab_inputs in = {0};
	struct pki_credential *cred = NULL;
	struct cli_progress progress;
	struct pp_error err;
	bool force = false;
	struct stat st;
	int c, rc = CLI_EXIT_FAIL;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case OPT_COMPRESS:
			if (strcasecmp(optarg, "none") == 0)
				compression = CAB_COMPRESS_NONE;
			else if (strcasecmp(optarg, "mszip") == 0)
				compression = CAB_COMPRESS_MSZIP;
			else
				return cli_usage("cab create",
						 "--compress must be none or mszip, not '%s'",
						 optarg);
			break;
		case OPT_SIGN_PFX:
			sign_pfx = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		default:
			return cli_usage("cab create", "invalid option");
		}
	}
	if (out == NULL)
		return cli_usage("cab create", "-o OUT.cab is required");
	if (optind == argc)
		return cli_usage("cab create", "no input files");
	if (!force && lstat(out, &st) == 0)
		return cli_failf(cli, "%s already exists; use --force to replace it", out);
	cli_progress_init(&progress, "Creating cabinet");
	if (inputs_collect(&in, argc - optind, argv + optind, &err) != 0)
		goto fail;

	if (sign_pfx != NULL) {
		struct authenticode_signer signer;

		cred = cli_load_credential(sign_pfx, password_file, true, &err);
		if (cred == NULL)
			goto fail;
		authenticode_signer_init_key(&signer, cred->cert, cred->chain, cred->key);
		if (authenticode_create_signed_cab(
			out, (const char *const *)in.files, (const char *const *)in.names, in.count,
			compression, &signer, cli_progress_update, &progress, NULL, &err) != 0)
			goto fail;
	} else if (write_unsigned(out, &in, compression, &progress, &err) != 0) {
		goto fail;
	}
	cli_progress_end(&progress);
	if (stat(out, &st) != 0) {
		pp_error_set_errno(&err, errno, "cannot stat %s", out);
		goto fail;
	}
	if (cred != NULL) {
		char thumb[PKI_THUMBPRINT_LEN + 1], name[256];

		pki_thumbprint(cred->cert, thumb);
		pki_simple_name(cred->cert, name, sizeof(name));
		printf("Created %s: %zu file%s, %lld bytes, signed by \"%s\" (%s)\n", out, in.count,
		       in.count == 1 ? "" : "s", (long long)st.st_size, name, thumb);
		cli_log(cli, CMTRACE_INFO, "Created and signed %s with certificate %s", out, thumb);
	} else {
		printf("Created %s: %zu file%s, %lld bytes, not signed\n", out, in.count,
		       in.count == 1 ? "" : "s", (long long)st.st_size);
		cli_log(cli, CMTRACE_INFO, "Created %s (%zu files)", out, in.count);
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_progress_end(&progress);
	rc = cli_fail(cli, &err);
out:
	pki_credential_free(cred);
	inputs_free(&in);
	return rc;
}

static const char *compression_name(uint16_t type)
{
	switch (type & 0x0F) {
	case CAB_COMPRESS_NONE:
		return "none";
	case CAB_COMPRESS_MSZIP:
		return "mszip";
	case CAB_COMPRESS_QUANTUM:
		return "quantum";
	case CAB_COMPRESS_LZX:
		return "lzx";
	default:
		return "unknown";
	}
}

/* DOS date and time as "YYYY-MM-DD HH:MM:SS". */
static void dos_datetime(uint16_t date, uint16_t time, char *out, size_t size)
{
	unsigned d = date, t = time;

	(void)snprintf(out, size, "%04u-%02u-%02u %02u:%02u:%02u", 1980u + (d >> 9), (d >> 5) & 15u,
		       d & 31u, t >> 11, (t >> 5) & 63u, (t & 31u) * 2u);
}

static int cab_list(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	struct cab_reader *r = NULL;
	const struct cab_header *h;
	struct pp_error err;
	bool json = false;
	char when[32];
	size_t i;
	int c;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c != OPT_JSON)
			return cli_usage("cab list", "invalid option");
		json = true;
	}
	if (argc - optind != 1)
		return cli_usage("cab list", "expected one cabinet");
	r = cab_reader_open(argv[optind], &err);
	if (r == NULL)
		return cli_fail(cli, &err);
	h = cab_reader_header(r);
	if (json) {
		json_t *files = json_array(), *folders = json_array();

		for (i = 0; i < cab_reader_folder_count(r); i++) {
			const struct cab_folder *f = cab_reader_folder(r, i);

			json_array_append_new(folders, json_pack("{s:s, s:i}", "compression",
								 compression_name(f->type_compress),
								 "blocks", (int)f->c_cfdata));
		}
		for (i = 0; i < cab_reader_file_count(r); i++) {
			const struct cab_file *f = cab_reader_file(r, i);

			dos_datetime(f->date, f->time, when, sizeof(when));
			json_array_append_new(
			    files, json_pack("{s:s, s:I, s:s, s:i, s:i}", "name", f->name, "size",
					     (json_int_t)f->size, "modified", when, "folder",
					     (int)f->folder, "attributes", (int)f->attribs));
		}
		cli_print_json(json_pack("{s:s, s:I, s:b, s:o, s:o}", "cabinet", argv[optind],
					 "size", (json_int_t)h->cb_cabinet, "signed",
					 h->signature_reserve && h->signature_length > 0, "folders",
					 folders, "files", files));
	} else {
		printf("Cabinet %s\n", argv[optind]);
		for (i = 0; i < cab_reader_folder_count(r); i++)
			printf("Folder %zu: %s, %u data blocks\n", i,
			       compression_name(cab_reader_folder(r, i)->type_compress),
			       cab_reader_folder(r, i)->c_cfdata);
		printf("Signed: %s\n\n", h->signature_reserve && h->signature_length > 0
					     ? "yes (Authenticode)"
					     : "no");
		printf(" File size | Date       Time     | Name\n");
		printf("-----------+---------------------+-------------\n");
		for (i = 0; i < cab_reader_file_count(r); i++) {
			const struct cab_file *f = cab_reader_file(r, i);

			dos_datetime(f->date, f->time, when, sizeof(when));
			printf("%10u | %s | %s\n", f->size, when, f->name);
		}
		printf("\nAll done, no errors.\n");
	}
	cab_reader_free(r);
	return CLI_EXIT_OK;
}

static int cab_extract(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"directory", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	struct cab_reader *r = NULL;
	struct cli_progress progress;
	struct pp_error err;
	int c, rc;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "d:", options, NULL)) != -1) {
		if (c != 'd')
			return cli_usage("cab extract", "invalid option");
		dir = optarg;
	}
	if (argc - optind != 1)
		return cli_usage("cab extract", "expected one cabinet");
	if (dir == NULL)
		return cli_usage("cab extract", "-d DIR is required");
	r = cab_reader_open(argv[optind], &err);
	if (r == NULL)
		return cli_fail(cli, &err);
	cli_progress_init(&progress, "Extracting");
	rc = cab_reader_extract(r, dir, cli_progress_update, &progress, &err);
	cli_progress_end(&progress);
	if (rc != 0) {
		rc = cli_fail(cli, &err);
	} else {
		printf("Extracted %zu file%s to %s\n", cab_reader_file_count(r),
		       cab_reader_file_count(r) == 1 ? "" : "s", dir);
		cli_log(cli, CMTRACE_INFO, "Extracted %s to %s", argv[optind], dir);
		rc = CLI_EXIT_OK;
	}
	cab_reader_free(r);
	return rc;
}

int cli_cab(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "build a cabinet, optionally signed", cab_create_manual, cab_create},
	    {"list", "list the files of a cabinet", cab_list_manual, cab_list},
	    {"extract", "extract a cabinet into a directory", cab_extract_manual, cab_extract},
	};

	return cli_dispatch(cli, "cab", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
