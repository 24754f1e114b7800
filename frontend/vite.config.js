// Vite builds the map into dist/, which `atlas serve` serves at /. In development (`npm run dev`)
// the API calls go to a running `atlas serve` on ATLAS_API (default http://127.0.0.1:8000).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: { "/api": process.env.ATLAS_API || "http://127.0.0.1:8000" },
  },
});
