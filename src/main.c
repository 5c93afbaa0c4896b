/* rumor — program entry point. */
#include "rumor/cli.h"

int main(int argc, char **argv)
{
    return rumor_cli_main(argc, argv);
}
