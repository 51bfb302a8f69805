/* The arena's SQLite database. Every vote and review is committed as it
 * arrives (WAL journal, synchronous FULL), so a server that is killed
 * keeps them. Times are UTC ISO 8601. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "arena_internal.h"
#include "dokja/error.h"

struct dk_arena {
    sqlite3 *db;
    char *path;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS models(id INTEGER PRIMARY KEY, name TEXT NOT NULL, dir TEXT NOT NULL,"
    " weights_sha256 TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS prompts(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS answers(id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),"
    " prompt_id INTEGER NOT NULL REFERENCES prompts(id), text TEXT NOT NULL, settings TEXT NOT NULL, created TEXT NOT NULL,"
    " UNIQUE(model_id, prompt_id));"
    "CREATE TABLE IF NOT EXISTS battles(id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, rater TEXT NOT NULL,"
    " prompt_id INTEGER NOT NULL REFERENCES prompts(id), answer_a INTEGER NOT NULL REFERENCES answers(id),"
    " answer_b INTEGER REFERENCES answers(id), created TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS votes(id INTEGER PRIMARY KEY, battle_id INTEGER NOT NULL UNIQUE REFERENCES battles(id),"
    " rater TEXT NOT NULL, prompt_id INTEGER NOT NULL REFERENCES prompts(id), model_a INTEGER NOT NULL REFERENCES models(id),"
    " model_b INTEGER NOT NULL REFERENCES models(id), answer_a INTEGER NOT NULL REFERENCES answers(id),"
    " answer_b INTEGER NOT NULL REFERENCES answers(id), vote TEXT NOT NULL CHECK(vote IN ('a','b','tie','both_bad')),"
    " created TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS reviews(id INTEGER PRIMARY KEY, battle_id INTEGER NOT NULL UNIQUE REFERENCES battles(id),"
    " rater TEXT NOT NULL, prompt_id INTEGER NOT NULL REFERENCES prompts(id), model_id INTEGER NOT NULL REFERENCES models(id),"
    " answer_id INTEGER NOT NULL REFERENCES answers(id), comment TEXT NOT NULL, created TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS scores(review_id INTEGER NOT NULL REFERENCES reviews(id), criterion TEXT NOT NULL,"
    " score INTEGER NOT NULL CHECK(score BETWEEN 1 AND 5), PRIMARY KEY(review_id, criterion));";

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static int db_fail(dk_arena *a, const char *what)
{
    return dk_fail("%s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
}

int dk_arena_open(dk_arena **out, const char *path)
{
    dk_arena *a = dk_calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path))) {
        free(a);
        return dk_fail("out of memory");
    }
    int rc = sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    char *err = NULL;
    if (rc == SQLITE_OK) sqlite3_busy_timeout(a->db, 5000);
    if (rc == SQLITE_OK) rc = sqlite3_exec(a->db, schema, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        dk_fail("%s: %s", path, err ? err : a->db ? sqlite3_errmsg(a->db) : "cannot open");
        sqlite3_free(err);
        dk_arena_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

void dk_arena_close(dk_arena *a)
{
    if (!a) return;
    sqlite3_close(a->db);
    free(a->path);
    free(a);
}

/* Prepares sql and binds its parameters from fmt: 'i' int64, 's' text, 'n' null. */
static sqlite3_stmt *prep(dk_arena *a, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(a, "prepare");
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 'i') sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        else if (fmt[i] == 's') sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, i + 1);
    }
    va_end(ap);
    return st;
}

/* Runs a statement to its end; *id gets the first column of its first row (when asked and there is one). */
static int exec(dk_arena *a, sqlite3_stmt *st, int64_t *id)
{
    if (!st) return -1;
    int rc, found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (id && !found++) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? found : db_fail(a, "write");
}

int dk_arena_add_model(dk_arena *a, const char *name, const char *dir, const char *sha256, int64_t *id)
{
    if (exec(a, prep(a, "INSERT INTO models(name, dir, weights_sha256) VALUES(?1, ?2, ?3) ON CONFLICT(weights_sha256)"
                        " DO UPDATE SET name = ?1, dir = ?2", "sss", name, dir, sha256), NULL) < 0)
        return -1;
    return exec(a, prep(a, "SELECT id FROM models WHERE weights_sha256 = ?", "s", sha256), id) == 1 ? 0 : -1;
}

int dk_arena_add_prompt(dk_arena *a, const char *text, int64_t *id)
{
    if (exec(a, prep(a, "INSERT OR IGNORE INTO prompts(text) VALUES(?)", "s", text), NULL) < 0) return -1;
    return exec(a, prep(a, "SELECT id FROM prompts WHERE text = ?", "s", text), id) == 1 ? 0 : -1;
}

int dk_arena_get_answer(dk_arena *a, int64_t model, int64_t prompt, int64_t *id, char **text)
{
    sqlite3_stmt *st = prep(a, "SELECT id, text FROM answers WHERE model_id = ? AND prompt_id = ?", "ii", model, prompt);
    if (!st) return -1;
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW;
    if (found) {
        *id = sqlite3_column_int64(st, 0);
        *text = strdup((const char *)sqlite3_column_text(st, 1));
        if (!*text) found = dk_fail("out of memory");
    } else if (rc != SQLITE_DONE) found = db_fail(a, "read");
    sqlite3_finalize(st);
    return found;
}

int dk_arena_put_answer(dk_arena *a, int64_t model, int64_t prompt, const char *text, const char *settings, int64_t *id)
{
    return exec(a, prep(a, "INSERT INTO answers(model_id, prompt_id, text, settings, created) VALUES(?, ?, ?, ?, " NOW ")"
                           " RETURNING id", "iiss", model, prompt, text, settings), id) == 1 ? 0 : -1;
}

int dk_arena_new_battle(dk_arena *a, const char *rater, int64_t prompt, int64_t answer_a, int64_t answer_b, char token[33])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != sizeof r) return dk_fail("no random bytes for a battle token");
    for (int i = 0; i < 16; i++) snprintf(token + 2 * i, 3, "%02x", r[i]);
    sqlite3_stmt *st = answer_b ? prep(a, "INSERT INTO battles(token, rater, prompt_id, answer_a, answer_b, created)"
                                          " VALUES(?, ?, ?, ?, ?, " NOW ")", "ssiii", token, rater, prompt, answer_a, answer_b)
                                : prep(a, "INSERT INTO battles(token, rater, prompt_id, answer_a, answer_b, created)"
                                          " VALUES(?, ?, ?, ?, ?, " NOW ")", "ssiin", token, rater, prompt, answer_a);
    return exec(a, st, NULL) < 0 ? -1 : 0;
}

/* The battle of a token: its id and whether it shows one answer (a review) or two (a vote). */
static int find_battle(dk_arena *a, const char *token, bool pair, int64_t *id)
{
    bool hex = strlen(token) == 32 && strspn(token, "0123456789abcdef") == 32;
    int64_t b = 0;
    int found = hex ? exec(a, prep(a, pair ? "SELECT id FROM battles WHERE token = ? AND answer_b IS NOT NULL"
                                           : "SELECT id FROM battles WHERE token = ? AND answer_b IS NULL", "s", token), &b) : 0;
    if (found < 0) return -1;
    if (!found) {
        dk_fail("unknown %s \"%.40s\": reload the page for a new one", pair ? "comparison" : "review", token);
        return 1;
    }
    *id = b;
    return 0;
}

int dk_arena_vote(dk_arena *a, const char *token, const char *rater, const char *vote)
{
    if (strcmp(vote, "a") && strcmp(vote, "b") && strcmp(vote, "tie") && strcmp(vote, "both_bad")) {
        dk_fail("the vote must be a, b, tie or both_bad, not \"%.40s\"", vote);
        return 1;
    }
    int64_t b, done = 0;
    int rc = find_battle(a, token, true, &b);
    if (rc) return rc;
    if ((rc = exec(a, prep(a, "SELECT count(*) FROM votes WHERE battle_id = ?", "i", b), &done)) < 0) return -1;
    if (done) {
        dk_fail("this comparison already has a vote");
        return 1;
    }
    return exec(a, prep(a, "INSERT INTO votes(battle_id, rater, prompt_id, model_a, model_b, answer_a, answer_b, vote, created)"
                           " SELECT b.id, ?, b.prompt_id, x.model_id, y.model_id, b.answer_a, b.answer_b, ?, " NOW
                           " FROM battles b JOIN answers x ON x.id = b.answer_a JOIN answers y ON y.id = b.answer_b"
                           " WHERE b.id = ?", "ssi", rater, vote, b), NULL) < 0 ? -1 : 0;
}

int dk_arena_review(dk_arena *a, const char *token, const char *rater, char *const *criteria, const int *scores, int n,
                    const char *comment)
{
    for (int i = 0; i < n; i++)
        if (scores[i] < 1 || scores[i] > 5) {
            dk_fail("\"%s\" needs a score from 1 to 5", criteria[i]);
            return 1;
        }
    int64_t b, done = 0, review = 0;
    int rc = find_battle(a, token, false, &b);
    if (rc) return rc;
    if (exec(a, prep(a, "SELECT count(*) FROM reviews WHERE battle_id = ?", "i", b), &done) < 0) return -1;
    if (done) {
        dk_fail("this answer already has a review");
        return 1;
    }
    /* one transaction: a review is stored with all its scores or not at all */
    if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return db_fail(a, "begin");
    rc = exec(a, prep(a, "INSERT INTO reviews(battle_id, rater, prompt_id, model_id, answer_id, comment, created)"
                         " SELECT b.id, ?, b.prompt_id, x.model_id, b.answer_a, ?, " NOW
                         " FROM battles b JOIN answers x ON x.id = b.answer_a WHERE b.id = ? RETURNING id", "ssi",
                      rater, comment, b), &review) == 1 ? 0 : -1;
    for (int i = 0; !rc && i < n; i++)
        rc = exec(a, prep(a, "INSERT INTO scores(review_id, criterion, score) VALUES(?, ?, ?)", "isi", review, criteria[i],
                          (int64_t)scores[i]), NULL) < 0 ? -1 : 0;
    if (sqlite3_exec(a->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK && !rc) rc = db_fail(a, "commit");
    return rc;
}

int dk_arena_counts(dk_arena *a, const char *rater, int64_t *votes, int64_t *rater_votes, int64_t *reviews, int64_t *rater_reviews)
{
    return exec(a, prep(a, "SELECT count(*) FROM votes", ""), votes) < 0 ||
                   exec(a, prep(a, "SELECT count(*) FROM votes WHERE rater = ?", "s", rater), rater_votes) < 0 ||
                   exec(a, prep(a, "SELECT count(*) FROM reviews", ""), reviews) < 0 ||
                   exec(a, prep(a, "SELECT count(*) FROM reviews WHERE rater = ?", "s", rater), rater_reviews) < 0
               ? -1
               : 0;
}

int dk_arena_reveal(dk_arena *a, const char *token, char **model_a, char **model_b, char **vote)
{
    sqlite3_stmt *st = prep(a, "SELECT x.name, y.name, v.vote FROM votes v JOIN battles b ON b.id = v.battle_id"
                               " JOIN models x ON x.id = v.model_a JOIN models y ON y.id = v.model_b WHERE b.token = ?", "s", token);
    if (!st) return -1;
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        *model_a = strdup((const char *)sqlite3_column_text(st, 0));
        *model_b = strdup((const char *)sqlite3_column_text(st, 1));
        *vote = strdup((const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    return found;
}

int dk_arena_query(dk_arena *a, const char *sql, cJSON **out)
{
    sqlite3_stmt *st = prep(a, sql, "");
    if (!st) return -1;
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) break;
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *name = sqlite3_column_name(st, c);
            if (sqlite3_column_type(st, c) == SQLITE_INTEGER || sqlite3_column_type(st, c) == SQLITE_FLOAT)
                cJSON_AddNumberToObject(o, name, sqlite3_column_double(st, c));
            else if (sqlite3_column_type(st, c) == SQLITE_NULL) cJSON_AddNullToObject(o, name);
            else cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, c));
        }
    }
    sqlite3_finalize(st);
    if (!arr || rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return arr ? db_fail(a, "read") : dk_fail("out of memory");
    }
    *out = arr;
    return 0;
}
