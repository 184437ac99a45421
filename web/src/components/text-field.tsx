// A labelled text input, the form row every page repeats: the label names the input (for screen readers and tests).

interface TextFieldProps {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  placeholder?: string;
  /** A number typed as text (the page parses it): mobile keyboards show digits. */
  numeric?: boolean;
  required?: boolean;
  /** Takes the free width of its row. */
  grow?: boolean;
}

export function TextField({ id, label, value, onValue, placeholder, numeric, required, grow }: TextFieldProps) {
  return (
    <div class={grow ? 'field grow' : 'field'}>
      <label for={id}>{label}</label>
      <input
        id={id}
        value={value}
        placeholder={placeholder}
        inputMode={numeric ? 'numeric' : undefined}
        required={required}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
    </div>
  );
}
