// The points, drawn by PixiJS: one Mesh of GL points per loaded tile, sharing one small shader.
// Positions are map coordinates; the camera is the transform of the world container, so panning
// and zooming change one matrix, not the vertex buffers. Colours live in a per-vertex RGBA buffer
// that is rewritten only when the colouring or the category filter changes (alpha 0 hides a point).

import { Container, Geometry, GlProgram, Mesh, Shader } from "pixi.js";

const VERTEX = `
in vec2 aPosition;
in vec4 aColor;
uniform mat3 uProjectionMatrix;
uniform mat3 uWorldTransformMatrix;
uniform mat3 uTransformMatrix;
uniform float uPointSize;
out vec4 vColor;
void main() {
  mat3 mvp = uProjectionMatrix * uWorldTransformMatrix * uTransformMatrix;
  gl_Position = vec4((mvp * vec3(aPosition, 1.0)).xy, 0.0, 1.0);
  gl_PointSize = aColor.a > 0.0 ? uPointSize : 0.0;
  if (aColor.a == 0.0) gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
  vColor = aColor;
}`;

const FRAGMENT = `
in vec4 vColor;
uniform float uOpacity;
out vec4 finalColor;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  float r2 = dot(d, d);
  if (r2 > 0.25) discard;
  float edge = smoothstep(0.25, 0.16, r2);
  finalColor = vec4(vColor.rgb, 1.0) * uOpacity * edge;
}`;

/** @typedef {import("./tiles.js").Points} Points */

export class PointLayer {
  /** One container of meshes, one per loaded tile, sharing one shader. */
  constructor() {
    this.container = new Container();
    this.meshes = new Map(); // id -> {mesh, points, colors}
    this.shader = new Shader({
      glProgram: GlProgram.from({ vertex: VERTEX, fragment: FRAGMENT, name: "atlas-points" }),
      resources: {
        pointUniforms: {
          uPointSize: { value: 3, type: "f32" },
          uOpacity: { value: 0.85, type: "f32" },
        },
      },
    });
    this.colorOf = () => [128, 128, 128, 255];
  }

  /** @param {number} pixels  a point's diameter */
  setPointSize(pixels) {
    this.shader.resources.pointUniforms.uniforms.uPointSize = pixels;
  }

  /** @param {number} opacity  0 to 1 */
  setOpacity(opacity) {
    this.shader.resources.pointUniforms.uniforms.uOpacity = opacity;
  }

  /**
   * Recolour every loaded point.
   * @param {(category: number, month: number, x: number, y: number, trust: number) => number[]} colorOf  [r, g, b, a], a = 0 hides; trust NaN = unknown
   */
  setColoring(colorOf) {
    this.colorOf = colorOf;
    for (const entry of this.meshes.values()) {
      entry.shown = this.fillColors(entry.points, entry.colors);
      entry.mesh.geometry.getBuffer("aColor").update();
    }
  }

  /**
   * Writes the colours of a tile's points.
   * @param {Points} points
   * @param {Uint8Array} colors  RGBA per point
   * @returns {number} how many are shown (alpha > 0)
   */
  fillColors(points, colors) {
    let shown = 0;
    for (let i = 0; i < points.count; i += 1) {
      const c = this.colorOf(points.category[i], points.month[i], points.x[i], points.y[i], points.trust[i]);
      colors[4 * i] = c[0];
      colors[4 * i + 1] = c[1];
      colors[4 * i + 2] = c[2];
      colors[4 * i + 3] = c[3];
      if (c[3]) shown += 1;
    }
    return shown;
  }

  /**
   * Show exactly these loaded tiles, in this order (coarse levels first).
   * @param {Array<{id: string, points: Points}>} entries
   */
  show(entries) {
    const keep = new Set(entries.map((e) => e.id));
    for (const [id, entry] of this.meshes) {
      if (!keep.has(id)) {
        const geometry = entry.mesh.geometry;
        this.meshes.delete(id);
        this.container.removeChild(entry.mesh);
        entry.mesh.destroy();
        geometry.destroy(true);
      }
    }
    entries.forEach(({ id, points }, index) => {
      let entry = this.meshes.get(id);
      if (!entry) {
        entry = this.create(id, points);
        if (!entry) return;
      }
      entry.mesh.zIndex = index;
    });
    this.container.sortChildren();
  }

  /**
   * A mesh for a tile's points (null for none).
   * @param {string} id
   * @param {Points} points
   */
  create(id, points) {
    if (!points.count) return null;
    const positions = new Float32Array(points.count * 2);
    for (let i = 0; i < points.count; i += 1) {
      positions[2 * i] = points.x[i];
      positions[2 * i + 1] = points.y[i];
    }
    const colors = new Uint8Array(points.count * 4);
    const shown = this.fillColors(points, colors);
    const geometry = new Geometry({
      attributes: {
        aPosition: { buffer: positions, format: "float32x2" },
        aColor: { buffer: colors, format: "unorm8x4" },
      },
      topology: "point-list",
    });
    const mesh = new Mesh({ geometry, shader: this.shader });
    mesh.label = id;
    this.container.addChild(mesh);
    const entry = { mesh, points, colors, shown };
    this.meshes.set(id, entry);
    return entry;
  }

  /**
   * Every shown point that is not hidden, for hit testing.
   * @param {(points: Points, i: number) => void} visit
   */
  forEachVisible(visit) {
    for (const { points, colors } of this.meshes.values()) {
      for (let i = 0; i < points.count; i += 1) if (colors[4 * i + 3]) visit(points, i);
    }
  }

  /**
   * Points shown now (kept per tile when its colours are written: no pass over the points a frame).
   * @returns {number}
   */
  drawnCount() {
    let count = 0;
    for (const entry of this.meshes.values()) count += entry.shown;
    return count;
  }
}
