/*
 * bcryptprimitives.dll shim for Wine 8: Go 1.24+ on Windows draws its random numbers from
 * ProcessPrng in bcryptprimitives.dll, which Wine 8 does not provide, so Go executables fail to
 * start there. This DLL supplies ProcessPrng on top of BCryptGenRandom. It is test support only:
 * copied into a private Wine prefix's system32, never shipped and never needed on real Windows.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return FALSE;
		data += chunk;
		len -= chunk;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}
