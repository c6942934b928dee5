/*
 * banned.h — functions that are easy to misuse are compile errors in venom's
 * own code. Included last by util/common.h, after the system headers.
 * Use snprintf, buf_* (util/buf.h), strtol/strtoll with checks, strtok_r.
 */
#ifndef VENOM_UTIL_BANNED_H
#define VENOM_UTIL_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_venom

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)

#endif
