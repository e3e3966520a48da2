import { LabIcon } from '@jupyterlab/ui-components';

/** The sidebar icon: three stacked runs with a rising metric line. */
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="4" width="18" height="2.2" rx="1.1"/>
    <rect x="3" y="10.9" width="11" height="2.2" rx="1.1"/>
    <rect x="3" y="17.8" width="7" height="2.2" rx="1.1"/>
    <path d="M13 20.5l3.4-4.2 2.4 2 3.2-5 .1 0v2.7h-1.6l-1.5 2.4-2.6-2.1-2.9 3.5z"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({ name: 'mlops-nb:sidebar', svgstr: SVG });
