/* encore from C (encore/encore_c.h): loads a classifier, labels each text given on the command
 * line with its probability, then prints the per-layer profile of that run.
 *
 *   encore-capi-example [--threads N] MODEL TEXT...
 *
 * Output: one line per text, "TEXT<TAB>LABEL<TAB>PROBABILITY<TAB>TOKENS", then the profile.
 * Errors: one line on stderr and exit code 1 (2 for a usage error). Plain C99. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encore/encore_c.h"

static int usage(void) {
  fprintf(stderr, "usage: encore-capi-example [--threads N] MODEL TEXT...\n");
  return 2;
}

static int report(encore_error* error) {
  fprintf(stderr, "encore-capi-example: error: %s (%s)\n", encore_error_message(error),
          encore_status_name(encore_error_code(error)));
  encore_error_free(error);
  return 1;
}

/* Softmax of one row of logits: returns the top label and its probability. */
static int32_t top_label(const float* logits, int64_t count, double* probability) {
  int32_t top = 0;
  double total = 0.0;
  int64_t i;
  for (i = 1; i < count; ++i)
    if (logits[i] > logits[top]) top = (int32_t)i;
  for (i = 0; i < count; ++i) total += exp((double)logits[i] - (double)logits[top]);
  *probability = 1.0 / total;
  return top;
}

/* One line per encoder layer: its total and each step's time, in microseconds. The steps
 * outside the layers (layer -1) go before them (embeddings) and after them (pooler,
 * classifier). */
static void print_profile(const encore_session* session, int32_t layer_count) {
  size_t count = encore_session_profile_count(session);
  int32_t layer;
  printf("profile of the run (us):\n");
  for (layer = -1; layer <= layer_count; ++layer) {
    /* -1: embeddings; layer_count: pooler and classifier */
    const int32_t wanted = layer == layer_count ? -1 : layer;
    const int head = layer == layer_count;
    double total = 0.0;
    char steps[512] = "";
    size_t used = 0, i;
    for (i = 0; i < count; ++i) {
      const encore_profile_record* r = encore_session_profile_record(session, i);
      int is_head = r->step == ENCORE_STEP_POOLER || r->step == ENCORE_STEP_CLASSIFIER;
      int n;
      if (r->layer != wanted || (wanted == -1 && is_head != head)) continue;
      total += (double)r->duration_ns / 1000.0;
      n = snprintf(steps + used, sizeof steps - used, " %s %.1f", r->step_name, (double)r->duration_ns / 1000.0);
      if (n > 0 && (size_t)n < sizeof steps - used) used += (size_t)n;
    }
    if (total == 0.0 && used == 0) continue;
    if (layer == -1)
      printf("  embeddings %8.1f |%s\n", total, steps);
    else if (head)
      printf("  head       %8.1f |%s\n", total, steps);
    else
      printf("  layer %-4d %8.1f |%s\n", (int)layer, total, steps);
  }
}

int main(int argc, char** argv) {
  encore_session_options options;
  encore_model* model = NULL;
  encore_session* session = NULL;
  encore_error* error = NULL;
  const encore_model_config* config;
  const encore_outputs* out;
  int first = 1;
  size_t t, text_count;

  encore_session_options_init(&options);
  options.profile = 1;
  if (argc > 2 && strcmp(argv[1], "--threads") == 0) {
    char* end = NULL;
    long threads = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || threads < 1 || threads > 1024) return usage();
    options.threads = (int32_t)threads;
    first = 3;
  }
  if (argc - first < 2) return usage();
  text_count = (size_t)(argc - first - 1);

  if (encore_model_load(argv[first], NULL, &model, &error) != ENCORE_OK) return report(error);
  config = encore_model_get_config(model);
  if (config->label_count == 0) {
    fprintf(stderr, "encore-capi-example: error: %s has no classifier head\n", argv[first]);
    encore_model_free(model);
    return 1;
  }
  if (encore_session_create(model, &options, &session, &error) != ENCORE_OK) {
    encore_model_free(model);
    return report(error);
  }
  printf("encore %s: %d layers, hidden %d, %d labels, %s\n", encore_version(), (int)config->layer_count,
         (int)config->hidden_size, (int)config->label_count, config->is_quantized ? "int8" : "f32");

  if (encore_session_run_text(session, (const char* const*)(argv + first + 1), text_count, &error) != ENCORE_OK) {
    encore_session_free(session);
    encore_model_free(model);
    return report(error);
  }
  out = encore_session_outputs(session);
  for (t = 0; t < text_count; ++t) {
    const encore_text_info* info = encore_session_text_info(session, t);
    double probability;
    int32_t label = top_label(out->logits + (int64_t)t * out->labels, out->labels, &probability);
    int64_t k;
    printf("%s\t%s\t%.4f\t", argv[first + 1 + (int)t], encore_model_label(model, label), probability);
    for (k = 0; k < info->token_count; ++k) printf(k ? " %s" : "%s", info->tokens[k]);
    printf("\n");
  }
  print_profile(session, config->layer_count);

  encore_session_free(session);
  encore_model_free(model);
  return 0;
}
