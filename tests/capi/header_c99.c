/* encore_c.h must be plain C99: this file is compiled with -std=c99 -pedantic -Werror and the
 * prototype warnings (tests/capi/CMakeLists.txt), so a C++-ism in the header fails the build. */
#include "encore/encore_c.h"

size_t encore_c_api_struct_sizes(void);

size_t encore_c_api_struct_sizes(void) {
  encore_load_options load;
  encore_session_options session;
  encore_inputs inputs;
  encore_status status = ENCORE_OK;
  encore_profile_step step = ENCORE_STEP_CLASSIFIER;
  encore_load_options_init(&load);
  encore_session_options_init(&session);
  encore_inputs_init(&inputs);
  return load.struct_size + session.struct_size + inputs.struct_size + sizeof(encore_model_config) +
         sizeof(encore_outputs) + sizeof(encore_text_info) + sizeof(encore_profile_record) + (size_t)status +
         (size_t)step;
}
