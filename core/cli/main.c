#include "util/common.h"
int main(int argc, char **argv) { (void)argc; (void)argv; puts("venom " VENOM_VERSION); return 0; }
