# Installers: the MSI (wixl, msitools), the Debian package (dpkg-deb), Authenticode signing
# (osslsigncode), and their tests: MSI tables, install/upgrade/uninstall under Wine, dpkg -i/-r
# on this host, sign/verify/tamper.

DEB_PACKAGES += wixl msitools osslsigncode openssl lintian init-system-helpers systemd wine xvfb

EXAMPLE_CONFIG ?= installer/pcipause.example.toml
# PKGVERSION counts commits and is re-evaluated at every use, while others commit: freeze it
# once here, and hand it to sub-makes.
INSTALLER_VERSION := $(PKGVERSION)
MSI            := dist/pcipause-$(INSTALLER_VERSION)-x64.msi
DEB            := dist/pcipause_$(INSTALLER_VERSION)_amd64.deb
# The upgrade tests need a second, newer package of the same build.
PKGVERSION_NEXT := $(shell echo $(INSTALLER_VERSION) | awk -F. '{print $$1"."$$2"."$$3+1}')
INSTALLER_OUT  ?= out/installer

.PHONY: msi msi-package deb deb-package sign test-sign test-msi test-deb

msi: build ## build dist/pcipause-<version>-x64.msi with wixl (from the binaries make build writes)
	@$(MAKE) --no-print-directory msi-package PKGVERSION=$(INSTALLER_VERSION)

msi-package: ## package the binaries already in dist/windows-amd64 into the MSI (no rebuild)
	bash installer/windows/build-msi.sh $(INSTALLER_VERSION) dist/windows-amd64 $(EXAMPLE_CONFIG) $(MSI)

deb: build ## build dist/pcipause_<version>_amd64.deb with dpkg-deb
	@$(MAKE) --no-print-directory deb-package PKGVERSION=$(INSTALLER_VERSION)

deb-package: ## package the binaries already in dist/linux-amd64 into the .deb (no rebuild)
	bash installer/deb/build-deb.sh $(INSTALLER_VERSION) dist/linux-amd64 $(EXAMPLE_CONFIG) $(DEB)

# Executables first, then the MSI is built around the signed executables and signed itself.
sign: build ## sign both .exe and the MSI with osslsigncode: SIGN_CERT=chain.pem SIGN_KEY=key.pem [SIGN_TIMESTAMP_URL=url]
	@[ -n "$(SIGN_CERT)" ] && [ -n "$(SIGN_KEY)" ] || { echo "make sign: set SIGN_CERT and SIGN_KEY (and SIGN_KEY_PASS, SIGN_TIMESTAMP_URL if needed)" >&2; exit 1; }
	SIGN_TIMESTAMP_URL='$(SIGN_TIMESTAMP_URL)' bash installer/sign.sh $(SIGN_CERT) $(SIGN_KEY) \
		dist/windows-amd64/pcipause.exe dist/windows-amd64/pcipause-session.exe
	@$(MAKE) --no-print-directory msi-package PKGVERSION=$(INSTALLER_VERSION)
	SIGN_TIMESTAMP_URL='$(SIGN_TIMESTAMP_URL)' bash installer/sign.sh $(SIGN_CERT) $(SIGN_KEY) $(MSI)

test-sign: build ## make sign with a throwaway certificate: the executables, the MSI and the executables inside it verify
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	openssl req -x509 -newkey rsa:2048 -nodes -keyout $$tmp/key.pem -out $$tmp/cert.pem -days 1 \
		-subj "/CN=pcipause throwaway test" -addext extendedKeyUsage=codeSigning 2>/dev/null; \
	$(MAKE) --no-print-directory sign PKGVERSION=$(INSTALLER_VERSION) SIGN_CERT=$$tmp/cert.pem SIGN_KEY=$$tmp/key.pem; \
	mkdir $$tmp/x; (cd $$tmp/x && msiextract $(abspath $(MSI)) >/dev/null); \
	for f in dist/windows-amd64/pcipause.exe dist/windows-amd64/pcipause-session.exe $(MSI) \
		$$tmp/x/pcipause/pcipause.exe $$tmp/x/pcipause/pcipause-session.exe; do \
		osslsigncode verify -CAfile $$tmp/cert.pem -in $$f >/dev/null || { echo "test-sign: $$f does not verify"; exit 1; }; \
		echo "test-sign: $$f verifies"; done

test-msi: build ## svcctl's Windows tests and the MSI tables, then install/upgrade/uninstall under Wine on a private Xvfb (:95-:99) and prefix
	@$(MAKE) --no-print-directory winetest-shim msi-package PKGVERSION=$(INSTALLER_VERSION)
	bash installer/windows/build-msi.sh $(PKGVERSION_NEXT) dist/windows-amd64 $(EXAMPLE_CONFIG) $(INSTALLER_OUT)/pcipause-$(PKGVERSION_NEXT)-x64.msi
	GOOS=windows GOARCH=amd64 $(GO) test -c -o $(INSTALLER_OUT)/svcctl.test.exe ./daemon/svcctl
	PCIPAUSE_MSI=$(abspath $(MSI)) $(GO) test -count=1 -v -run '^TestMSITables$$' ./installer/
	@tmp=$$(mktemp -d /tmp/pcipause-msi.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	PCIPAUSE_WINE_DISPLAYS="95 96 97 98 99" PCIPAUSE_MSI=$(abspath $(MSI)) \
	PCIPAUSE_MSI_NEXT=$(abspath $(INSTALLER_OUT)/pcipause-$(PKGVERSION_NEXT)-x64.msi) \
	PCIPAUSE_WINDOWS_EXE=$(abspath dist/windows-amd64/pcipause.exe) \
		installer/winetest/wineenv.sh "$$tmp" $(WINE_SHIM) -- bash -c '\
		set -e; (cd daemon/svcctl && wine $(abspath $(INSTALLER_OUT))/svcctl.test.exe -test.count=1 -test.v); \
		$(GO) test -count=1 -v -timeout 14m -run "^(TestMSIWine|TestInstallCommandWine)$$" ./installer/'

test-deb: build ## lintian, then dpkg -i / upgrade / dpkg -r / dpkg -P the .deb on this host (needs root)
	@$(MAKE) --no-print-directory deb-package PKGVERSION=$(INSTALLER_VERSION)
	bash installer/deb/build-deb.sh $(PKGVERSION_NEXT) dist/linux-amd64 $(EXAMPLE_CONFIG) $(INSTALLER_OUT)/pcipause_$(PKGVERSION_NEXT)_amd64.deb
	PCIPAUSE_DEB=$(abspath $(DEB)) PCIPAUSE_DEB_NEXT=$(abspath $(INSTALLER_OUT)/pcipause_$(PKGVERSION_NEXT)_amd64.deb) \
		$(GO) test -count=1 -v -timeout 10m -run '^TestDeb' ./installer/

TEST_STEPS += test-sign test-msi test-deb
