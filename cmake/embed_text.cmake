# cmake -DIN=FILE -DOUT=HEADER -DNAME=IDENT -P embed_text.cmake: the text of
# FILE as `static const char NAME[] = {…, 0};` (a byte array: no string
# literal length limit, no escaping questions). Used for docs/plan.schema.json
# in the planner's instructions (core/plan/planner.c).
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp" "/* generated from ${IN} by cmake/embed_text.cmake: do not edit */\nstatic const char ${NAME}[] = {\n${bytes}0};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
