/* worker/vdir.c and worker/mime.c: virtual directory matching, the safe
 * open under a root (openat2 and the component-walk fallback), MIME lookup. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"
#include "worker.h"

static char *root; /* the vdir's physical path */
static char *top;  /* its parent, holding a secret outside the root */

static void
tree_setup(void)
{
	char p[PATH_MAX];

	testutil_fd_setup();
	top = testutil_mkdtemp();
	snprintf(p, sizeof(p), "%s/secret.txt", top);
	testutil_write_file(p, "secret\n");
	root = malloc(PATH_MAX);
	snprintf(root, PATH_MAX, "%s/www", top);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	snprintf(p, sizeof(p), "%s/a.txt", root);
	testutil_write_file(p, "aaa\n");
	snprintf(p, sizeof(p), "%s/sub", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/b.txt", root);
	testutil_write_file(p, "bbb\n");
	/* a link that leaves the root, one that stays inside, an absolute one */
	snprintf(p, sizeof(p), "%s/out", root);
	ck_assert_int_eq(symlink("../secret.txt", p), 0);
	snprintf(p, sizeof(p), "%s/in", root);
	ck_assert_int_eq(symlink("sub/b.txt", p), 0);
	snprintf(p, sizeof(p), "%s/updir", root);
	ck_assert_int_eq(symlink("..", p), 0);
	snprintf(p, sizeof(p), "%s/abs", root);
	ck_assert_int_eq(symlink(top, p), 0);
	/* absolute links that point inside the root again: a file, a directory */
	snprintf(p, sizeof(p), "%s/absin", root);
	{
		char t[PATH_MAX];
		snprintf(t, sizeof(t), "%s/sub/b.txt", root);
		ck_assert_int_eq(symlink(t, p), 0);
		snprintf(p, sizeof(p), "%s/absdir", root);
		snprintf(t, sizeof(t), "%s/sub", root);
		ck_assert_int_eq(symlink(t, p), 0);
		/* an absolute link to the secret beside the root, through the root */
		snprintf(p, sizeof(p), "%s/absout", root);
		snprintf(t, sizeof(t), "%s/../secret.txt", root);
		ck_assert_int_eq(symlink(t, p), 0);
	}
}

static void
tree_teardown(void)
{
	testutil_rmtree(top);
	free(top);
	free(root);
	testutil_fd_teardown();
}

static struct wvdir
make_vdir(const char *url, const char *phys)
{
	return (struct wvdir){
		.url = url, .url_len = strlen(url), .physical_path = phys, .root_fd = -1
	};
}

static int
read_fd(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	return (int)n;
}

START_TEST(test_match)
{
	struct wvdir v[] = {
		/* longest first, as env_build_apps sorts them */
		make_vdir("/app/images/big", "/x3"),
		make_vdir("/app/images", "/x2"),
		make_vdir("/app", "/x1"),
	};
	struct wapp app = { .path = "/app", .path_len = 4, .vdirs = v, .n_vdirs = 3 };
	const char *rel = NULL;

	ck_assert_ptr_eq(vdir_match(&app, "/app/images/a.png", &rel), &v[1]);
	ck_assert_str_eq(rel, "a.png");
	ck_assert_ptr_eq(vdir_match(&app, "/APP/Images/Big/x", &rel), &v[0]);
	ck_assert_str_eq(rel, "x");
	ck_assert_ptr_eq(vdir_match(&app, "/app/imagesX/a", &rel), &v[2]);
	ck_assert_str_eq(rel, "imagesX/a");
	ck_assert_ptr_eq(vdir_match(&app, "/app", &rel), &v[2]);
	ck_assert_str_eq(rel, "");
	ck_assert_ptr_eq(vdir_match(&app, "/app/images/", &rel), &v[1]);
	ck_assert_str_eq(rel, "");
	ck_assert_ptr_null(vdir_match(&app, "/other", &rel));
}
END_TEST

START_TEST(test_match_root)
{
	struct wvdir v[] = { make_vdir("/img", "/x2"), make_vdir("/", "/x1") };
	struct wapp app = { .path = "/", .path_len = 1, .vdirs = v, .n_vdirs = 2 };
	const char *rel = NULL;

	ck_assert_ptr_eq(vdir_match(&app, "/index.html", &rel), &v[1]);
	ck_assert_str_eq(rel, "index.html");
	ck_assert_ptr_eq(vdir_match(&app, "/", &rel), &v[1]);
	ck_assert_str_eq(rel, "");
	ck_assert_ptr_eq(vdir_match(&app, "/img/x.png", &rel), &v[0]);
	ck_assert_str_eq(rel, "x.png");
}
END_TEST

static void
check_open(bool walk)
{
	struct wvdir v = make_vdir("/", root);
	char buf[64];
	int fd;

	v.no_openat2 = walk;
	fd = vdir_open(&v, "a.txt", O_RDONLY, 1);
	ck_assert_int_ge(fd, 0);
	read_fd(fd, buf, sizeof(buf));
	ck_assert_str_eq(buf, "aaa\n");
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	fd = vdir_open(&v, "sub/b.txt", O_RDONLY, 1);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = vdir_open(&v, "", O_RDONLY, 1); /* the root itself */
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = vdir_open(&v, "sub/", O_RDONLY, 1);
	ck_assert_int_ge(fd, 0);
	close(fd);

	/* never outside the root, whatever the path or the links say */
	ck_assert_int_eq(vdir_open(&v, "out", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "updir/secret.txt", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "abs/secret.txt", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "../secret.txt", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "sub/../../secret.txt", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "/etc/passwd", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "..\\secret.txt", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "missing.txt", O_RDONLY, 1), -ENOENT);
	ck_assert_int_eq(vdir_open(&v, "a.txt/x", O_RDONLY, 1), -ENOENT);

	ck_assert_int_eq(vdir_open(&v, "absout", O_RDONLY, 1), -ENOENT);

	/* a link that stays inside, relative or absolute (to a file, through a
	 * directory): followed by openat2, refused by the walk */
	static const char *const inside[] = { "in", "absin", "absdir/b.txt" };
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		fd = vdir_open(&v, inside[i], O_RDONLY, 1);
		if (walk) {
			ck_assert_int_eq(fd, -ENOENT);
		} else {
			ck_assert_msg(fd >= 0, "%s: %d", inside[i], fd);
			read_fd(fd, buf, sizeof(buf));
			ck_assert_str_eq(buf, "bbb\n");
			ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
			close(fd);
		}
	}
	vdir_close(&v);
}

START_TEST(test_open_openat2)
{
	check_open(false);
}
END_TEST

START_TEST(test_open_walk)
{
	check_open(true);
}
END_TEST

START_TEST(test_root_missing_and_swapped)
{
	char p[PATH_MAX], old[PATH_MAX];
	struct wvdir v;
	int fd;

	snprintf(p, sizeof(p), "%s/nope", top);
	v = make_vdir("/", p);
	ck_assert_int_eq(vdir_open(&v, "a.txt", O_RDONLY, 1), -ENOENT);

	/* a deployment replaces the root directory: seen within a second */
	v = make_vdir("/", root);
	fd = vdir_open(&v, "a.txt", O_RDONLY, 1);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(old, sizeof(old), "%s/www.old", top);
	ck_assert_int_eq(rename(root, old), 0);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	snprintf(p, sizeof(p), "%s/new.txt", root);
	testutil_write_file(p, "new\n");
	fd = vdir_open(&v, "new.txt", O_RDONLY, 2000000);
	ck_assert_int_ge(fd, 0);
	close(fd);
	vdir_close(&v);
}
END_TEST

START_TEST(test_mime)
{
	ck_assert_str_eq(mime_lookup("index.html"), "text/html");
	ck_assert_str_eq(mime_lookup("/a/b/STYLE.CSS"), "text/css");
	ck_assert_str_eq(mime_lookup("x.tar.gz"), "application/gzip");
	ck_assert_str_eq(mime_lookup("photo.jpg"), "image/jpeg");
	ck_assert_str_eq(mime_lookup("README"), "application/octet-stream");
	ck_assert_str_eq(mime_lookup("dir.d/README"), "application/octet-stream");
	ck_assert_str_eq(mime_lookup("trailing."), "application/octet-stream");
	ck_assert_str_eq(mime_lookup("a.unknownext"), "application/octet-stream");
	ck_assert_str_eq(mime_lookup("a.woff2"), "font/woff2");
	ck_assert_str_eq(mime_lookup("a.7z"), "application/x-7z-compressed");
}
END_TEST

static Suite *
worker_vdir_suite(void)
{
	Suite *s = suite_create("worker_vdir");
	TCase *tc = tcase_create("match");

	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_match_root);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
	tcase_add_test(tc, test_open_openat2);
	tcase_add_test(tc, test_open_walk);
	tcase_add_test(tc, test_root_missing_and_swapped);
	suite_add_tcase(s, tc);

	tc = tcase_create("mime");
	tcase_add_test(tc, test_mime);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_vdir_suite());
}
