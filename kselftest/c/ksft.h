/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small test harness for the C conformance programs: the output of the TypeScript harness
 * (kselftest/harness), which follows kselftest_harness.h — `# RUN`, `ok N name`, `# SKIP`,
 * a `# Totals:` line — so the runner and the verdict comparison read both alike.
 *
 * Each test runs in a child process of its own (fork), as kselftest_harness.h does: a test that
 * leaves fds open cannot change the next one, and a crash is that test's failure. EXPECT_*
 * marks the test failed and goes on, ASSERT_* ends it, SKIP() ends it with a reason.
 */
#ifndef IOMMU_EMU_KSFT_H
#define IOMMU_EMU_KSFT_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

struct ksft;
typedef void (*ksft_fn)(struct ksft *t, const void *variant);

struct ksft_case {
	const char *name;
	ksft_fn fn;
	const void *variant;
};

struct ksft {
	const char *name;
	int failed;
	int skip_fd;
};

static inline void ksft_log(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline void __attribute__((noreturn)) ksft_skip(struct ksft *t, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (write(t->skip_fd, why, strlen(why)) < 0)
		_exit(KSFT_FAIL);
	fflush(stdout);
	_exit(KSFT_SKIP);
}

#define SKIP(t, ...) ksft_skip(t, __VA_ARGS__)

#define KSFT_CHECK(t, cond, fatal, ...)                                                                                \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			printf("# %s:%d:%s: ", __FILE__, __LINE__, (t)->name);                                         \
			printf(__VA_ARGS__);                                                                           \
			printf("\n");                                                                                  \
			fflush(stdout);                                                                                \
			(t)->failed = 1;                                                                               \
			if (fatal)                                                                                     \
				_exit(KSFT_FAIL);                                                                      \
		}                                                                                                      \
	} while (0)

#define KSFT_CMP(t, fatal, a, op, b)                                                                                   \
	do {                                                                                                           \
		long long _a = (long long)(a), _b = (long long)(b);                                                    \
		KSFT_CHECK(t, _a op _b, fatal, "Expected %s (%lld) " #op " %s (%lld)", #a, _a, #b, _b);                \
	} while (0)

#define EXPECT_EQ(t, a, b) KSFT_CMP(t, 0, a, ==, b)
#define EXPECT_NE(t, a, b) KSFT_CMP(t, 0, a, !=, b)
#define EXPECT_LE(t, a, b) KSFT_CMP(t, 0, a, <=, b)
#define EXPECT_LT(t, a, b) KSFT_CMP(t, 0, a, <, b)
#define EXPECT_TRUE(t, a) KSFT_CHECK(t, (a), 0, "Expected %s", #a)
#define EXPECT_FALSE(t, a) KSFT_CHECK(t, !(a), 0, "Expected !(%s)", #a)
#define ASSERT_EQ(t, a, b) KSFT_CMP(t, 1, a, ==, b)
#define ASSERT_LE(t, a, b) KSFT_CMP(t, 1, a, <=, b)
#define ASSERT_LT(t, a, b) KSFT_CMP(t, 1, a, <, b)
#define ASSERT_TRUE(t, a) KSFT_CHECK(t, (a), 1, "Expected %s", #a)

/* rc is -1 with errno `e` (the call just made). */
#define EXPECT_ERRNO(t, e, rc)                                                                                         \
	do {                                                                                                           \
		long long _rc = (long long)(rc);                                                                       \
		int _e = errno;                                                                                        \
		KSFT_CHECK(t, _rc == -1 && _e == (e), 0, "Expected %s to fail with %s, got %lld (%s)", #rc, #e, _rc,  \
			   _rc == -1 ? strerror(_e) : "no error");                                                     \
	} while (0)

/* Run every case in a child of its own; KTAP-style report; exit status as kselftest's. */
static inline int ksft_main(const struct ksft_case *cases, int n)
{
	int pass = 0, fail = 0, skip = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%d\n", n);
	for (int i = 0; i < n; i++) {
		const struct ksft_case *c = &cases[i];
		int p[2];
		char why[512] = "";
		printf("#  RUN           %s ...\n", c->name);
		fflush(stdout);
		if (pipe(p) < 0)
			return KSFT_FAIL;
		pid_t pid = fork();
		if (pid == 0) {
			struct ksft t = { .name = c->name, .skip_fd = p[1] };
			close(p[0]);
			alarm(60);
			c->fn(&t, c->variant);
			fflush(stdout);
			_exit(t.failed ? KSFT_FAIL : KSFT_PASS);
		}
		close(p[1]);
		ssize_t got = read(p[0], why, sizeof(why) - 1);
		why[got > 0 ? got : 0] = 0;
		close(p[0]);
		int st = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == KSFT_SKIP) {
			printf("#      SKIP      %s\nok %d %s # SKIP %s\n", why, i + 1, c->name, why);
			skip++;
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == KSFT_PASS) {
			printf("#            OK  %s\nok %d %s\n", c->name, i + 1, c->name);
			pass++;
		} else {
			if (WIFSIGNALED(st))
				printf("# %s: Test terminated by signal %d\n", c->name, WTERMSIG(st));
			printf("#          FAIL  %s\nnot ok %d %s\n", c->name, i + 1, c->name);
			fail++;
		}
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n", pass, fail, skip);
	return fail ? KSFT_FAIL : pass == 0 && skip ? KSFT_SKIP : KSFT_PASS;
}

/* The whole program skips (kselftest's ksft_exit_skip): "1..0 # SKIP reason". */
static inline int ksft_exit_skip(const char *why)
{
	printf("TAP version 13\n1..0 # SKIP %s\n", why);
	return KSFT_SKIP;
}

#define KSFT_CASES(cases) ((int)(sizeof(cases) / sizeof((cases)[0])))

#endif
