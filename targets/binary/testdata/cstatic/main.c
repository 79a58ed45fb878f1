/* A test fixture: a C program, to be linked with gcc -static. */
#include <stdio.h>

int main(void) {
	puts("hello from C");
	return 0;
}
