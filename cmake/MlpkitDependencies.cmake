# Dependencies of the library itself. Test, benchmark and tool dependencies are looked up in
# their own subdirectories.
find_package(xsimd 8.1 REQUIRED)
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)  # Debian's xsimd config names xtl without finding it
endif()
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
