# Builds and installs the C library of caas: the header, the shared and static libraries, a
# pkg-config file and a CMake package.
#
#   make                                    # builds caas-ffi in the dist profile (see `all`)
#   sudo make install                       # into /usr/local
#   make install PREFIX=$HOME/.local        # or any prefix; DESTDIR=... stages a package
#   make install PROFILE=release            # what `cargo build --release -p caas-ffi` built
#
# PROFILE is the Cargo profile whose build is installed: dist (the default: link-time
# optimised and stripped, the smallest library), release, or dev (alias debug). `install`
# builds nothing, so that `sudo make install` never runs Cargo as root; it stops if the
# build is missing. Installed: $(INCLUDEDIR)/caas.h; in $(LIBDIR) the shared library
# libcaas.so.N.<version> with the links libcaas.so.N (its SONAME: N is the C ABI version,
# CAAS_ABI_VERSION) and libcaas.so, the static libcaas.a, pkgconfig/caas.pc and
# cmake/caas/caasConfig.cmake with caasConfigVersion.cmake (the targets caas::caas and
# caas::caas_static). `make uninstall` with the same variables removes them.

# The repository, so that `make -f path/to/Makefile` works from anywhere.
HERE := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/caas
DESTDIR      ?=
PROFILE      ?= dist
CARGO        ?= cargo
TARGET_DIR   ?= $(or $(CARGO_TARGET_DIR),$(HERE)/target)

# Cargo names the dev profile's folder `debug`.
CARGO_PROFILE = $(if $(filter debug dev,$(PROFILE)),dev,$(PROFILE))
BUILD         = $(TARGET_DIR)/$(if $(filter debug dev,$(PROFILE)),debug,$(PROFILE))

# The version of caas-ffi: its own `version = "..."`, or the workspace's when it has
# `version.workspace = true`. Read from the manifests, so that installing needs no Cargo.
VERSION := $(shell sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' $(HERE)/caas-ffi/Cargo.toml)
ifeq ($(VERSION),)
VERSION := $(shell sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' $(HERE)/Cargo.toml)
endif

# The SONAME that caas-ffi/build.rs gave the built library (libcaas.so.N), read from it.
SONAME   = $(shell readelf -d $(BUILD)/libcaas.so 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
REALNAME = $(SONAME).$(VERSION)

# What the Rust standard library needs from the system when libcaas.a is linked statically
# (`cargo rustc -p caas-ffi --crate-type staticlib -- --print native-static-libs`).
STATIC_LIBS = -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

empty :=
space := $(empty) $(empty)
# Written into caas.pc relative to ${prefix} where they are under it.
PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
# The CMake package finds the library and header relative to its own folder, so that a
# prefix moved elsewhere (or unpacked from DESTDIR) still works.
relative = $(shell realpath -m -s --relative-to=$(1) $(2))
SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@SONAME@|$(SONAME)|g' -e 's|@REALNAME@|$(REALNAME)|g' \
	-e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PC_LIBDIR@|$(PC_LIBDIR)|g' -e 's|@PC_INCLUDEDIR@|$(PC_INCLUDEDIR)|g' \
	-e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' \
	-e 's|@STATIC_LIBS_CMAKE@|$(subst $(space),;,$(strip $(patsubst -l%,%,$(STATIC_LIBS))))|g' \
	-e 's|@CMAKE_TO_LIBDIR@|$(call relative,$(CMAKEDIR),$(LIBDIR))|g' \
	-e 's|@CMAKE_TO_INCLUDEDIR@|$(call relative,$(CMAKEDIR),$(INCLUDEDIR))|g' \
	-e 's|@SIZEOF_VOID_P@|$(shell expr $$(getconf LONG_BIT) / 8)|g'

.PHONY: all install uninstall check-build
# caas-ffi is an rlib too (caas-fuzz links it), and Cargo applies no link-time optimisation
# to a library that is one: naming only the C crate types lets the dist profile's LTO work.
all:
	$(CARGO) rustc --locked --profile $(CARGO_PROFILE) -p caas-ffi --lib --crate-type cdylib,staticlib \
		--manifest-path $(HERE)/Cargo.toml

check-build:
	@test -n "$(VERSION)" || { echo "no version found in caas-ffi/Cargo.toml or Cargo.toml" >&2; exit 1; }
	@test -f $(BUILD)/libcaas.so -a -f $(BUILD)/libcaas.a || { \
		echo "no libcaas.so and libcaas.a in $(BUILD): build them first with" >&2; \
		echo "  make PROFILE=$(PROFILE)" >&2; exit 1; }
	@test -n "$(SONAME)" || { echo "$(BUILD)/libcaas.so has no SONAME: it predates caas-ffi/build.rs; rebuild it" >&2; exit 1; }

install: check-build
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	install -m 644 $(HERE)/include/caas.h $(DESTDIR)$(INCLUDEDIR)/caas.h
	install -m 755 $(BUILD)/libcaas.so $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcaas.so
	install -m 644 $(BUILD)/libcaas.a $(DESTDIR)$(LIBDIR)/libcaas.a
	@echo "write $(DESTDIR)$(PKGCONFIGDIR)/caas.pc"; \
		$(SUBST) $(HERE)/caas-ffi/caas.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/caas.pc
	@echo "write $(DESTDIR)$(CMAKEDIR)/caasConfig.cmake, caasConfigVersion.cmake"; \
		$(SUBST) $(HERE)/caas-ffi/caasConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/caasConfig.cmake && \
		$(SUBST) $(HERE)/caas-ffi/caasConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/caasConfigVersion.cmake

# Removes the shared library that libcaas.so leads to (through its SONAME link), and so
# leaves alone a library of another C ABI that other programs may still load.
uninstall:
	@lib=$(DESTDIR)$(LIBDIR); if [ -L $$lib/libcaas.so ]; then soname=$$(readlink $$lib/libcaas.so); \
		if [ -L "$$lib/$$soname" ]; then echo "rm -f $$lib/$$(readlink "$$lib/$$soname")"; \
			rm -f "$$lib/$$(readlink "$$lib/$$soname")"; fi; \
		echo "rm -f $$lib/$$soname"; rm -f "$$lib/$$soname"; fi
	rm -f $(DESTDIR)$(INCLUDEDIR)/caas.h $(DESTDIR)$(LIBDIR)/libcaas.so \
		$(DESTDIR)$(LIBDIR)/libcaas.a $(DESTDIR)$(PKGCONFIGDIR)/caas.pc \
		$(DESTDIR)$(CMAKEDIR)/caasConfig.cmake $(DESTDIR)$(CMAKEDIR)/caasConfigVersion.cmake
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true
