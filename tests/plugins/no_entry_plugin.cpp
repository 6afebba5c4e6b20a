// A test library that is not a plugin: it loads, but has no torchsystem_register_plugin.
extern "C" int torchsystem_test_not_a_plugin() {
  return 1;
}
