/* tpch_text.c — the TPC-H specification's word lists (section 4.2.2.13 and
 * 4.2.3) and the text pool that comments are cut from.
 *
 * The pool is built from the spec's text grammar (4.2.2.10) with dbgen's
 * word weights, once per process, from a fixed seed: it is a constant of
 * the generator like the word lists, so comments depend on the user's seed
 * only through where they are cut.  dbgen uses a 300 MB pool to make
 * repeats rare; 1 MiB is plenty for queries, which only match words in it
 * (Q13's "special ... requests"), and keeps start-up cost to a millisecond.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "tpch/tpch_internal.h"

#define W(x) { x, (uint32_t)(sizeof(x) - 1) }

const tpch_word tpch_colors[92] = {
    W("almond"),    W("antique"),   W("aquamarine"), W("azure"),
    W("beige"),     W("bisque"),    W("black"),      W("blanched"),
    W("blue"),      W("blush"),     W("brown"),      W("burlywood"),
    W("burnished"), W("chartreuse"), W("chiffon"),   W("chocolate"),
    W("coral"),     W("cornflower"), W("cornsilk"),  W("cream"),
    W("cyan"),      W("dark"),      W("deep"),       W("dim"),
    W("dodger"),    W("drab"),      W("firebrick"),  W("floral"),
    W("forest"),    W("frosted"),   W("gainsboro"),  W("ghost"),
    W("goldenrod"), W("green"),     W("grey"),       W("honeydew"),
    W("hot"),       W("indian"),    W("ivory"),      W("khaki"),
    W("lace"),      W("lavender"),  W("lawn"),       W("lemon"),
    W("light"),     W("lime"),      W("linen"),      W("magenta"),
    W("maroon"),    W("medium"),    W("metallic"),   W("midnight"),
    W("mint"),      W("misty"),     W("moccasin"),   W("navajo"),
    W("navy"),      W("olive"),     W("orange"),     W("orchid"),
    W("pale"),      W("papaya"),    W("peach"),      W("peru"),
    W("pink"),      W("plum"),      W("powder"),     W("puff"),
    W("purple"),    W("red"),       W("rose"),       W("rosy"),
    W("royal"),     W("saddle"),    W("salmon"),     W("sandy"),
    W("seashell"),  W("sienna"),    W("sky"),        W("slate"),
    W("smoke"),     W("snow"),      W("spring"),     W("steel"),
    W("tan"),       W("thistle"),   W("tomato"),     W("turquoise"),
    W("violet"),    W("wheat"),     W("white"),      W("yellow")};

const tpch_word tpch_type_s1[6] = {W("STANDARD"), W("SMALL"), W("MEDIUM"),
                                   W("LARGE"),    W("ECONOMY"), W("PROMO")};
const tpch_word tpch_type_s2[5] = {W("ANODIZED"), W("BURNISHED"),
                                   W("PLATED"), W("POLISHED"), W("BRUSHED")};
const tpch_word tpch_type_s3[5] = {W("TIN"), W("NICKEL"), W("BRASS"),
                                   W("STEEL"), W("COPPER")};
const tpch_word tpch_container_s1[5] = {W("SM"), W("LG"), W("MED"),
                                        W("JUMBO"), W("WRAP")};
const tpch_word tpch_container_s2[8] = {W("CASE"), W("BOX"), W("BAG"),
                                        W("JAR"),  W("PKG"), W("PACK"),
                                        W("CAN"),  W("DRUM")};
const tpch_word tpch_segments[5] = {W("AUTOMOBILE"), W("BUILDING"),
                                    W("FURNITURE"), W("MACHINERY"),
                                    W("HOUSEHOLD")};
const tpch_word tpch_priorities[5] = {W("1-URGENT"), W("2-HIGH"),
                                      W("3-MEDIUM"), W("4-NOT SPECIFIED"),
                                      W("5-LOW")};
const tpch_word tpch_instructions[4] = {W("DELIVER IN PERSON"),
                                        W("COLLECT COD"), W("NONE"),
                                        W("TAKE BACK RETURN")};
const tpch_word tpch_modes[7] = {W("REG AIR"), W("AIR"),  W("RAIL"),
                                 W("SHIP"),    W("TRUCK"), W("MAIL"),
                                 W("FOB")};
const tpch_word tpch_nations[25] = {
    W("ALGERIA"), W("ARGENTINA"), W("BRAZIL"),       W("CANADA"),
    W("EGYPT"),   W("ETHIOPIA"),  W("FRANCE"),       W("GERMANY"),
    W("INDIA"),   W("INDONESIA"), W("IRAN"),         W("IRAQ"),
    W("JAPAN"),   W("JORDAN"),    W("KENYA"),        W("MOROCCO"),
    W("MOZAMBIQUE"), W("PERU"),   W("CHINA"),        W("ROMANIA"),
    W("SAUDI ARABIA"), W("VIETNAM"), W("RUSSIA"),    W("UNITED KINGDOM"),
    W("UNITED STATES")};
const int tpch_nation_region[25] = {0, 1, 1, 1, 4, 0, 3, 3, 2, 2, 4, 4, 2,
                                    4, 0, 0, 0, 1, 2, 3, 4, 2, 3, 3, 1};
const tpch_word tpch_regions[5] = {W("AFRICA"), W("AMERICA"), W("ASIA"),
                                   W("EUROPE"), W("MIDDLE EAST")};

const char tpch_vstring_alphabet[64] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ, ";

/* --- The grammar ---------------------------------------------------------
 * Word weights are dbgen's (dists.dss): they decide how often Q13's
 * "special" and "requests" meet, so they are kept rather than flattened. */
typedef struct weighted {
  const char *s;
  unsigned w;
} weighted;

static const weighted nouns[] = {
    {"packages", 40},   {"requests", 40},     {"accounts", 40},
    {"deposits", 40},   {"foxes", 20},        {"ideas", 20},
    {"theodolites", 20}, {"pinto beans", 20}, {"instructions", 20},
    {"dependencies", 10}, {"excuses", 10},    {"platelets", 10},
    {"asymptotes", 10}, {"courts", 5},        {"dolphins", 5},
    {"multipliers", 1}, {"sauternes", 1},     {"warthogs", 1},
    {"frets", 1},       {"dinos", 1},         {"attainments", 1},
    {"somas", 1},       {"Tiresias", 1},      {"patterns", 1},
    {"forges", 1},      {"braids", 1},        {"frays", 1},
    {"warhorses", 1},   {"dugouts", 1},       {"notornis", 1},
    {"epitaphs", 1},    {"pearls", 1},        {"tithes", 1},
    {"waters", 1},      {"orbits", 1},        {"gifts", 1},
    {"sheaves", 1},     {"depths", 1},        {"sentiments", 1},
    {"decoys", 1},      {"realms", 1},        {"pains", 1},
    {"grouches", 1},    {"escapades", 1},     {"hockey players", 1}};
static const weighted verbs[] = {
    {"sleep", 20},  {"wake", 20},     {"are", 20},       {"cajole", 20},
    {"haggle", 20}, {"nag", 10},      {"use", 10},       {"boost", 10},
    {"affix", 5},   {"detect", 5},    {"integrate", 5},  {"maintain", 1},
    {"nod", 1},     {"was", 1},       {"lose", 1},       {"sublate", 1},
    {"solve", 1},   {"thrash", 1},    {"promise", 1},    {"engage", 1},
    {"hinder", 1},  {"print", 1},     {"x-ray", 1},      {"breach", 1},
    {"eat", 1},     {"grow", 1},      {"impress", 1},    {"mold", 1},
    {"poach", 1},   {"serve", 1},     {"run", 1},        {"dazzle", 1},
    {"snooze", 1},  {"doze", 1},      {"unwind", 1},     {"kindle", 1},
    {"play", 1},    {"hang", 1},      {"believe", 1},    {"doubt", 1}};
static const weighted adjectives[] = {
    {"special", 20},  {"pending", 20},   {"unusual", 20},   {"express", 20},
    {"furious", 1},   {"sly", 1},        {"careful", 1},    {"blithe", 1},
    {"quick", 1},     {"fluffy", 1},     {"slow", 1},       {"quiet", 1},
    {"ruthless", 1},  {"thin", 1},       {"close", 1},      {"dogged", 1},
    {"daring", 1},    {"brave", 1},      {"stealthy", 1},   {"permanent", 1},
    {"enticing", 1},  {"idle", 1},       {"busy", 1},       {"regular", 50},
    {"final", 40},    {"ironic", 40},    {"even", 30},      {"bold", 20},
    {"silent", 10}};
static const weighted adverbs[] = {
    {"sometimes", 1},  {"always", 1},      {"never", 1},
    {"furiously", 50}, {"slyly", 50},      {"carefully", 50},
    {"blithely", 40},  {"quickly", 30},    {"fluffily", 20},
    {"slowly", 1},     {"quietly", 1},     {"ruthlessly", 1},
    {"thinly", 1},     {"closely", 1},     {"doggedly", 1},
    {"daringly", 1},   {"bravely", 1},     {"stealthily", 1},
    {"permanently", 1}, {"enticingly", 1}, {"idly", 1},
    {"busily", 1},     {"regularly", 1},   {"finally", 1},
    {"ironically", 1}, {"evenly", 1},      {"boldly", 1},
    {"silently", 1}};
static const weighted prepositions[] = {
    {"about", 50},      {"above", 50},      {"according to", 50},
    {"across", 50},     {"after", 50},      {"against", 40},
    {"along", 40},      {"alongside of", 30}, {"among", 30},
    {"around", 20},     {"at", 10},         {"atop", 1},
    {"before", 1},      {"behind", 1},      {"beneath", 1},
    {"beside", 1},      {"besides", 1},     {"between", 1},
    {"beyond", 1},      {"by", 1},          {"despite", 1},
    {"during", 1},      {"except", 1},      {"for", 1},
    {"from", 1},        {"in place of", 1}, {"inside", 1},
    {"instead of", 1},  {"into", 1},        {"near", 1},
    {"of", 1},          {"on", 1},          {"outside", 1},
    {"over", 1},        {"past", 1},        {"since", 1},
    {"through", 1},     {"throughout", 1},  {"to", 1},
    {"toward", 1},      {"under", 1},       {"until", 1},
    {"up", 1},          {"upon", 1},        {"without", 1},
    {"with", 1},        {"within", 1}};
static const weighted auxiliaries[] = {
    {"do", 1},          {"may", 1},           {"might", 1},
    {"shall", 1},       {"will", 1},          {"would", 1},
    {"can", 1},         {"could", 1},         {"should", 1},
    {"ought to", 1},    {"must", 1},          {"will have to", 1},
    {"shall have to", 1}, {"could have to", 1}, {"should have to", 1},
    {"must have to", 1}, {"need to", 1},      {"try to", 1}};
static const weighted terminators[] = {{".", 50}, {";", 1}, {":", 1},
                                       {"?", 1},  {"!", 1}, {"--", 1}};

/* Sentence, noun-phrase and verb-phrase shapes with the spec's weights:
 * N noun phrase, V verb phrase, P prepositional phrase, T terminator;
 * inside phrases, n noun, j adjective, ',' a comma after the last word,
 * d adverb, v verb, x auxiliary. */
static const weighted sentences[] = {
    {"NVT", 3}, {"NVPT", 3}, {"NVNT", 3}, {"NPVNT", 1}, {"NPVPT", 1}};
static const weighted noun_phrases[] = {
    {"n", 10}, {"jn", 20}, {"j,jn", 10}, {"djn", 50}};
static const weighted verb_phrases[] = {
    {"v", 30}, {"xv", 1}, {"vd", 40}, {"xvd", 1}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct pool_writer {
  char *p;
  size_t used, cap;
  uint64_t key, n; /* the pool's own random stream */
} pool_writer;

static const char *pick(pool_writer *w, const weighted *list, size_t n) {
  unsigned total = 0;
  for (size_t i = 0; i < n; i++)
    total += list[i].w;
  uint64_t x = tpch_below(tpch_rnd(w->key, w->n++), total);
  for (size_t i = 0; i < n; i++) {
    if (x < list[i].w)
      return list[i].s;
    x -= list[i].w;
  }
  return list[n - 1].s;
}

static void put(pool_writer *w, const char *s, size_t len) {
  if (w->used + len > w->cap)
    len = w->cap - w->used;
  memcpy(w->p + w->used, s, len);
  w->used += len;
}

/* A word, preceded by a space unless it starts the pool or is punctuation. */
static void word(pool_writer *w, const char *s) {
  if (w->used > 0 && s[0] != '.' && s[0] != ';' && s[0] != ':' &&
      s[0] != '?' && s[0] != '!' && s[0] != '-' && s[0] != ',')
    put(w, " ", 1);
  put(w, s, strlen(s));
}

static void phrase(pool_writer *w, const char *shape) {
  for (; *shape; shape++) {
    switch (*shape) {
    case 'n': word(w, pick(w, nouns, N_OF(nouns))); break;
    case 'j': word(w, pick(w, adjectives, N_OF(adjectives))); break;
    case 'd': word(w, pick(w, adverbs, N_OF(adverbs))); break;
    case 'v': word(w, pick(w, verbs, N_OF(verbs))); break;
    case 'x': word(w, pick(w, auxiliaries, N_OF(auxiliaries))); break;
    case ',': word(w, ","); break;
    }
  }
}

static void noun_phrase(pool_writer *w) {
  phrase(w, pick(w, noun_phrases, N_OF(noun_phrases)));
}

static void sentence(pool_writer *w) {
  for (const char *s = pick(w, sentences, N_OF(sentences)); *s; s++) {
    switch (*s) {
    case 'N': noun_phrase(w); break;
    case 'V': phrase(w, pick(w, verb_phrases, N_OF(verb_phrases))); break;
    case 'P':
      word(w, pick(w, prepositions, N_OF(prepositions)));
      word(w, "the");
      noun_phrase(w);
      break;
    case 'T': word(w, pick(w, terminators, N_OF(terminators))); break;
    }
  }
}

static char pool[TPCH_TEXT_POOL_SIZE + TPCH_TEXT_POOL_SLACK];
/* A mutex rather than pthread_once: it is taken once per generated comment
 * column (per batch, not per row), so it costs nothing measurable, and race
 * checkers such as helgrind see the ordering it gives, which they do not
 * for glibc's pthread_once. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static bool pool_ready;

static void pool_build(void) {
  /* A fixed seed: the pool is part of the generator's definition. */
  pool_writer w = {pool, 0, TPCH_TEXT_POOL_SIZE,
                   tpch_stream_key(0x7470636874657874ull /* "tpchtext" */, 0),
                   0};
  while (w.used < w.cap)
    sentence(&w);
  /* The slack repeats the pool's start, so a cut near the end reads on
   * into text rather than into zeros. */
  memcpy(pool + TPCH_TEXT_POOL_SIZE, pool, TPCH_TEXT_POOL_SLACK);
}

const char *tpch_text_pool(void) {
  pthread_mutex_lock(&pool_lock);
  if (!pool_ready) {
    pool_build();
    pool_ready = true;
  }
  pthread_mutex_unlock(&pool_lock);
  return pool;
}
