// Entry: the token from the URL, the fonts (Noto Sans SC, loaded per glyph range only as Chinese text needs it), the app.
import '@fontsource/noto-sans-sc/400.css';
import './styles.css';
import { render } from 'preact';
import { dropTokenFromUrl } from './api/index.js';
import { App } from './app.js';
import { I18nProvider } from './i18n/index.js';

dropTokenFromUrl();
render(
  <I18nProvider>
    <App />
  </I18nProvider>,
  document.getElementById('app')!,
);
